package component

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentv1 "github.com/plinth-io/plinth/proto/gen/agent/v1"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/agentclient"
	"github.com/plinth-io/plinth/internal/agentrun"
	"github.com/plinth-io/plinth/internal/conditions"
	"github.com/plinth-io/plinth/internal/naming"
	"github.com/plinth-io/plinth/pluginregistry"
)

// Named intervals of the bootstrap phase.
const (
	// bootstrapRetryMin is the wait after the first failed bootstrap; it
	// doubles with each further failure up to bootstrapRetryMax.
	bootstrapRetryMin = 5 * time.Second
	bootstrapRetryMax = 2 * time.Minute
	// bootstrapCallMargin is kept from the reconcile deadline for the
	// status write after the agent call.
	bootstrapCallMargin = 10 * time.Second
	// bootstrapMinCall: with less time left, the call waits for the next
	// reconcile.
	bootstrapMinCall = 5 * time.Second
)

// Agents runs actions on pods' ops agents (agentclient.Client).
type Agents interface {
	Execute(ctx context.Context, pod agentclient.Pod, req *agentv1.ExecuteRequest) (*agentv1.ExecuteResponse, error)
}

// bootstrapCall is the one call the bootstrap phase makes.
type bootstrapCall struct {
	pod    agentclient.Pod
	action string
	params map[string]string
}

// desiredBootstrap is the bootstrap call once every pod of every WorkloadSet
// of the component is Ready; otherwise nil and what it waits for. wss are the
// component's WorkloadSets as applied (with their status).
func desiredBootstrap(in *inputs, wss []plinthv1.WorkloadSet) (*bootstrapCall, string) {
	call, ready, total := clusterCall(in, wss, in.topo.Bootstrap.Action, in.workloadSetNames(), in.shards())
	if call == nil {
		return nil, fmt.Sprintf("waiting for every pod to be Ready before running the bootstrap action: %d/%d ready", ready, total)
	}
	return call, ""
}

// clusterCall is the call of action with the bootstrap parameters: members
// are every pod of the WorkloadSets names (in shard order), shards the
// shards parameter. It is nil until every one of those pods is Ready (ready
// of total). wss are the WorkloadSets known, with their status.
func clusterCall(in *inputs, wss []plinthv1.WorkloadSet, action string, names []string, shards int32) (call *bootstrapCall, ready, total int) {
	byName := map[string]*plinthv1.WorkloadSet{}
	for i := range wss {
		byName[wss[i].Name] = &wss[i]
	}
	port := int32(0)
	if len(in.def.Ports) > 0 {
		port = in.def.Ports[0].Port
	}
	replicas := in.comp.Spec.Replicas
	var members []string
	var first agentclient.Pod
	for i, name := range names {
		ws := byName[name]
		readyPods := map[string]bool{}
		if ws != nil && ws.Status.ObservedGeneration >= ws.Generation {
			for _, m := range ws.Status.Members {
				readyPods[m.Name] = m.Ready
			}
		}
		svc := in.headlessService()
		if ws != nil && ws.Spec.ServiceName != "" {
			svc = ws.Spec.ServiceName
		}
		for o := int32(0); o < replicas; o++ {
			pod := agentclient.Pod{Namespace: in.comp.Namespace, Name: naming.Pod(name, o), Service: svc, Application: in.comp.Spec.Application}
			if i == 0 && o == 0 {
				first = pod
			}
			total++
			if readyPods[pod.Name] {
				ready++
			}
			members = append(members, pod.DNSName()+":"+strconv.Itoa(int(port)))
		}
	}
	if total == 0 || ready < total {
		return nil, ready, total
	}
	return &bootstrapCall{
		pod:    first,
		action: action,
		params: map[string]string{
			pluginregistry.BootstrapMembers:  strings.Join(members, " "),
			pluginregistry.BootstrapShards:   strconv.Itoa(int(shards)),
			pluginregistry.BootstrapReplicas: strconv.Itoa(int(replicas)),
		},
	}, ready, total
}

// bootstrapTracker remembers, per Component UID and operation (bootstrap, a
// reshard to some shard count), successes (the informer cache may not show
// the status written after one yet, and the action must not run twice) and
// failures (for the retry backoff).
type bootstrapTracker struct {
	mu sync.Mutex
	m  map[trackerKey]*bootstrapAttempts
}

// trackerKey names one operation of one Component.
type trackerKey struct {
	uid types.UID
	op  string
}

// opBootstrap is the bootstrap's trackerKey op.
const opBootstrap = "bootstrap"

type bootstrapAttempts struct {
	// done is the success message once the action succeeded, shards the
	// shard count it left.
	done     string
	shards   int32
	failures int
	next     time.Time
}

// forget drops what is known of uid's operations whose name starts with
// prefix (once its status records them, or they are no longer wanted),
// except keep.
func (t *bootstrapTracker) forget(uid types.UID, prefix, keep string) {
	for k := range t.m {
		if k.uid == uid && strings.HasPrefix(k.op, prefix) && k.op != keep {
			delete(t.m, k)
		}
	}
}

func (t *bootstrapTracker) get(uid types.UID, op string) *bootstrapAttempts {
	if t.m == nil {
		t.m = map[trackerKey]*bootstrapAttempts{}
	}
	k := trackerKey{uid: uid, op: op}
	a := t.m[k]
	if a == nil {
		a = &bootstrapAttempts{}
		t.m[k] = a
	}
	return a
}

// retryAfter is the backoff after the n-th consecutive failure.
func retryAfter(n int) time.Duration {
	d := bootstrapRetryMin
	for i := 1; i < n && d < bootstrapRetryMax; i++ {
		d *= 2
	}
	return min(d, bootstrapRetryMax)
}

// reconcileBootstrap runs the topology's bootstrap action once, when every
// pod is Ready, and records the outcome in the Bootstrapped condition (and
// the shard count it formed in FormedShards). It returns when to look again
// (0: an event will tell).
func (r *Reconciler) reconcileBootstrap(ctx context.Context, in *inputs, wss []plinthv1.WorkloadSet, st *plinthv1.ComponentStatus) time.Duration {
	if in.topo.Bootstrap == nil {
		return 0
	}
	comp, gen := in.comp, in.comp.Generation
	if c := conditions.Get(st.Conditions, plinthv1.ConditionBootstrapped); c != nil && c.Status == metav1.ConditionTrue {
		// Persisted: the status is the record from now on.
		conditions.MarkTrue(&st.Conditions, gen, plinthv1.ConditionBootstrapped, c.Reason, c.Message)
		r.forgetTracked(comp.UID, opBootstrap, "")
		return 0
	}
	a := r.tracked(comp.UID, opBootstrap)
	if a.done != "" {
		// Succeeded, but the cache does not show the status written then yet.
		conditions.MarkTrue(&st.Conditions, gen, plinthv1.ConditionBootstrapped, plinthv1.ReasonBootstrapSucceeded, a.done)
		st.FormedShards = a.shards
		return 0
	}
	if comp.Spec.Stopped {
		return 0
	}
	call, waiting := desiredBootstrap(in, wss)
	if call == nil {
		if a.failures == 0 {
			conditions.MarkFalse(&st.Conditions, gen, plinthv1.ConditionBootstrapped, plinthv1.ReasonWaitingForMembers, waiting)
		}
		return 0
	}
	res := r.runAction(ctx, comp, opBootstrap, "bootstrap", call, plinthv1.ReasonBootstrapFailed, in.shards())
	switch {
	case res.ok:
		conditions.MarkTrue(&st.Conditions, gen, plinthv1.ConditionBootstrapped, plinthv1.ReasonBootstrapSucceeded, res.message)
		st.FormedShards = in.shards()
	case res.reason != "":
		conditions.MarkFalse(&st.Conditions, gen, plinthv1.ConditionBootstrapped, res.reason, res.message)
	}
	return res.again
}

// tracked is a copy of what is known of comp's operation op.
func (r *Reconciler) tracked(uid types.UID, op string) bootstrapAttempts {
	r.bootstrapMu.Lock()
	defer r.bootstrapMu.Unlock()
	return *r.bootstrap.get(uid, op)
}

// forgetTracked drops what is known of uid's operations named prefix...
// but keep.
func (r *Reconciler) forgetTracked(uid types.UID, prefix, keep string) {
	r.bootstrapMu.Lock()
	defer r.bootstrapMu.Unlock()
	r.bootstrap.forget(uid, prefix, keep)
}

// actionResult is what runAction did.
type actionResult struct {
	// ok: the action succeeded; message says so.
	ok bool
	// reason and message: why it failed (empty: it did not run, the retry
	// backoff or the reconcile deadline keeps it for later).
	reason, message string
	// again is when to look again (0: an event will tell).
	again time.Duration
}

// runAction runs call (a what action: bootstrap, reshard) through its pod's
// ops agent for comp's operation op, unless the backoff after op's last
// failure has not passed, and records the outcome (shards: the shard count
// a success leaves). failedReason is the reason of a non-zero exit.
func (r *Reconciler) runAction(ctx context.Context, comp *plinthv1.Component, op, what string, call *bootstrapCall, failedReason string, shards int32) actionResult {
	if wait := r.tracked(comp.UID, op).next.Sub(r.now()); wait > 0 {
		return actionResult{again: wait}
	}
	budget := bootstrapRetryMax
	if dl, ok := ctx.Deadline(); ok {
		budget = time.Until(dl) - bootstrapCallMargin
	}
	if budget < bootstrapMinCall {
		return actionResult{again: bootstrapRetryMin}
	}
	log := r.log(ctx).WithValues("operation", op)
	secrets, err := r.credentialValues(ctx, comp)
	// The e2e leader-kill tests wait for this line to kill the leader mid-action.
	log.Info("running the "+what+" action", "pod", call.pod.Name)
	runner := agentrun.Runner{Agents: r.Agents}
	_, err = runner.Run(ctrl.LoggerInto(ctx, log), agentrun.Call{
		Pod: call.pod, Action: call.action, Params: call.params,
		Secrets: secrets, WithholdOutput: err != nil, Timeout: budget,
	})
	var reason, msg string
	switch {
	case err == nil:
		success := fmt.Sprintf("%s action %s succeeded on pod %s", what, call.action, call.pod.Name)
		r.bootstrapMu.Lock()
		a := r.bootstrap.get(comp.UID, op)
		a.done, a.shards, a.failures = success, shards, 0
		r.bootstrapMu.Unlock()
		return actionResult{ok: true, message: success}
	case agentrun.KindOf(err) == agentrun.Exited:
		reason, msg = failedReason, what+" "+err.Error()
	default:
		reason, msg = plinthv1.ReasonAgentUnavailable, err.Error()
	}
	r.bootstrapMu.Lock()
	a := r.bootstrap.get(comp.UID, op)
	a.failures++
	wait := retryAfter(a.failures)
	a.next = r.now().Add(wait)
	r.bootstrapMu.Unlock()
	log.Info(what+" action failed; retrying", "reason", reason, "retryAfter", wait.String())
	return actionResult{reason: reason, message: msg, again: wait}
}

// credentialValues are the values of comp's credentials Secret, which the
// runner redacts from the action's output (an error: the output is withheld).
func (r *Reconciler) credentialValues(ctx context.Context, comp *plinthv1.Component) ([]string, error) {
	name := comp.Spec.CredentialsSecret
	if name == "" {
		return nil, nil
	}
	s := &corev1.Secret{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: comp.Namespace, Name: name}, s); err != nil {
		return nil, err
	}
	values := make([]string, 0, len(s.Data))
	for _, v := range s.Data {
		values = append(values, string(v))
	}
	return values, nil
}
