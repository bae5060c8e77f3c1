//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	crclient "sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/conditions"
	"github.com/plinth-io/plinth/internal/naming"
)

// Operations (apis/v1alpha1/operation_types.go) run by the
// operation-controller from the templates of the target's pinned plugin
// version (plugins/redis/v1.2.0/operations.yaml), on a real cluster: the
// tests create Operations, read their status, and check the effect through
// the Kubernetes API and the Redis protocol.

// operationPlugin is the first Redis plugin version with the templates these
// tests run (Restart in place with a switchover, Reload with settings).
const operationPlugin = "v1.2.0"

// redisForOperations is a Redis Application of plugin v1.2.0.
func redisForOperations(ns, name, topology string, replicas int32) *plinthv1.Application {
	app := replicatedRedis(ns, name, topology, map[string]int32{"redis": replicas})
	app.Spec.PluginVersion = operationPlugin
	return app
}

// createOperation creates an Operation on the Application target.
func createOperation(t testing.TB, ns, name, target, template string, params map[string]string) *plinthv1.Operation {
	t.Helper()
	op := &plinthv1.Operation{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: plinthv1.OperationSpec{
			TargetRef:   plinthv1.TargetReference{Kind: "Application", Name: target},
			TemplateRef: template,
			Parameters:  params,
		},
	}
	if err := api(t).Create(context.Background(), op); err != nil {
		t.Fatalf("creating Operation %s (%s on %s): %v", name, template, target, err)
	}
	return op
}

func getOperation(t testing.TB, ns, name string) (*plinthv1.Operation, error) {
	op := &plinthv1.Operation{}
	err := api(t).Get(context.Background(), crclient.ObjectKey{Namespace: ns, Name: name}, op)
	return op, err
}

// describeOperation is an Operation's status in a few lines, for failure
// messages: phase, error, queue, and each step with its pods.
func describeOperation(op *plinthv1.Operation) string {
	st := op.Status
	var b strings.Builder
	fmt.Fprintf(&b, "Operation %s (%s on %s): phase %q, currentStep %d, queuePosition %d, pluginVersion %q, error %q",
		op.Name, op.Spec.TemplateRef, op.Spec.TargetRef.Name, st.Phase, st.CurrentStep, st.QueuePosition, st.PluginVersion, st.Error)
	for _, c := range st.Conditions {
		fmt.Fprintf(&b, "\n  condition %s=%s (%s): %s", c.Type, c.Status, c.Reason, c.Message)
	}
	for _, s := range st.Steps {
		fmt.Fprintf(&b, "\n  step %s (%s): %s, attempts %d: %s", s.Name, s.Type, s.Phase, s.Attempts, s.Message)
		for _, tg := range s.Targets {
			fmt.Fprintf(&b, "\n    %s: %s [%s] %s", tg.Name, tg.Phase, tg.Detail, tg.Message)
		}
	}
	return b.String()
}

func operationFinished(p plinthv1.OperationPhase) bool {
	return p == plinthv1.OperationSucceeded || p == plinthv1.OperationFailed || p == plinthv1.OperationCancelled
}

// waitOperation waits until the Operation ends and checks it ended in want;
// the status is logged on any failure.
func waitOperation(t testing.TB, ns, name string, want plinthv1.OperationPhase, timeout time.Duration) *plinthv1.Operation {
	t.Helper()
	var op *plinthv1.Operation
	deadline := time.Now().Add(timeout)
	for {
		var err error
		op, err = getOperation(t, ns, name)
		if err == nil && operationFinished(op.Status.Phase) {
			break
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("Operation %s: %v", name, err)
			}
			t.Fatalf("Operation %s did not finish within %s:\n%s", name, timeout, describeOperation(op))
		}
		time.Sleep(time.Second)
	}
	if op.Status.Phase != want {
		t.Fatalf("Operation %s ended %s, want %s:\n%s", name, op.Status.Phase, want, describeOperation(op))
	}
	return op
}

// logOnFailure logs the Operations' final status when the test fails.
func logOnFailure(t testing.TB, ns string, names ...string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, n := range names {
			if op, err := getOperation(t, ns, n); err == nil {
				t.Logf("%s", describeOperation(op))
			} else {
				t.Logf("Operation %s: %v", n, err)
			}
		}
	})
}

// podState is what must not change when a process restarts in place.
type podState struct {
	uid      types.UID
	restarts map[string]int32
}

// componentPods maps each pod of the component to its UID and restart
// counts.
func componentPods(t testing.TB, ns, comp string) map[string]podState {
	t.Helper()
	pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: plinthv1.LabelComponent + "=" + comp})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]podState{}
	for i := range pods.Items {
		p := &pods.Items[i]
		out[p.Name] = podState{uid: p.UID, restarts: restartCounts(p)}
	}
	return out
}

// stableAddr is host:port of a pod through its stable DNS name (the
// component's headless Service).
func stableAddr(ns, comp, pod string) string {
	return fmt.Sprintf("%s.%s.%s.svc:6379", pod, naming.HeadlessService(comp), ns)
}

// serverInfo reads one field of INFO server from every pod of the
// component, through each pod's stable name.
func serverInfo(t *testing.T, ns, comp, password string, pods map[string]podState, field string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name := range pods {
		eventually(t, time.Minute, func() error {
			return onRedis(stableAddr(ns, comp, name), password, func(ctx context.Context, c *redis.Client) error {
				info, err := c.Info(ctx, "server").Result()
				if err != nil {
					return err
				}
				for _, line := range strings.Split(info, "\n") {
					if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
						out[name] = v
						return nil
					}
				}
				return fmt.Errorf("INFO server has no %s: %q", field, info)
			})
		})
	}
	return out
}

// configGet reads one parameter from every pod of the component.
func configGet(t *testing.T, ns, comp, password string, pods map[string]podState, param string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name := range pods {
		eventually(t, time.Minute, func() error {
			return onRedis(stableAddr(ns, comp, name), password, func(ctx context.Context, c *redis.Client) error {
				got, err := c.ConfigGet(ctx, param).Result()
				if err != nil {
					return err
				}
				out[name] = got[param]
				return nil
			})
		})
	}
	return out
}

// samePods: no pod was recreated and no container restarted.
func samePods(t *testing.T, before, after map[string]podState) {
	t.Helper()
	if len(after) != len(before) {
		t.Errorf("pods before %v, after %v", keys(before), keys(after))
	}
	for name, b := range before {
		a, ok := after[name]
		switch {
		case !ok:
			t.Errorf("pod %s is gone", name)
		case a.uid != b.uid:
			t.Errorf("pod %s was recreated: UID %s -> %s", name, b.uid, a.uid)
		default:
			for c, n := range b.restarts {
				if a.restarts[c] != n {
					t.Errorf("pod %s container %s restarted: restartCount %d -> %d", name, c, n, a.restarts[c])
				}
			}
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func stepNamed(op *plinthv1.Operation, name string) *plinthv1.StepStatus {
	for i := range op.Status.Steps {
		if op.Status.Steps[i].Name == name {
			return &op.Status.Steps[i]
		}
	}
	return nil
}

// checkStepsSucceeded: every step and every target of the Operation
// succeeded, and no step records a target twice.
func checkStepsSucceeded(t *testing.T, op *plinthv1.Operation, steps ...string) {
	t.Helper()
	var names []string
	for _, s := range op.Status.Steps {
		names = append(names, s.Name)
		if s.Phase != plinthv1.StepSucceeded {
			t.Errorf("step %s is %s, want Succeeded", s.Name, s.Phase)
		}
		seen := map[string]bool{}
		for _, tg := range s.Targets {
			if seen[tg.Name] {
				t.Errorf("step %s records %s twice", s.Name, tg.Name)
			}
			seen[tg.Name] = true
			if tg.Phase != plinthv1.StepSucceeded {
				t.Errorf("step %s: target %s is %s, want Succeeded", s.Name, tg.Name, tg.Phase)
			}
		}
	}
	if strings.Join(names, ",") != strings.Join(steps, ",") {
		t.Errorf("status.steps are %v, want %v", names, steps)
	}
}

// Restart on Redis replication 1+2 restarts redis-server in place in every
// pod (no Pod recreated, no container restarted, a new process everywhere):
// the replicas one at a time, a switchover, then the former primary; a
// write loop through the read-write Service loses no acknowledged write.
func TestOperationRestartInPlace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := namespace(t)
	const appName = "rst"
	if err := api(t).Create(ctx, redisForOperations(ns, appName, "replication", 3)); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, ns, appName, plinthv1.ApplicationRunning, toRunning)
	oldPrimary := checkReplicatedRedis(t, ns, appName, 3, "plinth:rst:before", "v1")
	comp := naming.Component(appName, "redis")
	password := secretValue(t, ns, naming.CredentialsSecret(appName), "password")

	before := componentPods(t, ns, comp)
	if len(before) != 3 {
		t.Fatalf("want 3 pods, got %v", keys(before))
	}
	pidsBefore := serverInfo(t, ns, comp, password, before, "process_id")
	t.Logf("before: primary %s, redis-server process_id by pod %v", oldPrimary.Name, pidsBefore)

	loop := startWriteLoop(serviceAddr(t, ns, naming.RoleService(comp, "primary"), 6379), password, writeInterval)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			loop.finish()
		}
	})
	time.Sleep(2 * time.Second)
	logOnFailure(t, ns, "restart")
	start := time.Now()
	createOperation(t, ns, "restart", appName, "Restart", nil)
	op := waitOperation(t, ns, "restart", plinthv1.OperationSucceeded, 8*time.Minute)
	took := time.Since(start)
	time.Sleep(2 * time.Second)
	loop.finish()
	stopped = true
	t.Logf("Restart succeeded after %s; write loop: %s", took.Round(time.Second), loop)
	t.Logf("%s", describeOperation(op))

	// Every step succeeded; the replicas were restarted in the first step,
	// the former primary (and only it) in the last grpc step.
	checkStepsSucceeded(t, op, "restart-replicas", "switchover", "restart-rest", "wait-ready")
	restarted := map[string]int{}
	for _, name := range []string{"restart-replicas", "restart-rest"} {
		if s := stepNamed(op, name); s != nil {
			for _, tg := range s.Targets {
				restarted[tg.Name]++
			}
		}
	}
	for pod := range before {
		if restarted[pod] != 1 {
			t.Errorf("pod %s was restarted by %d steps, want exactly 1 (restarted: %v)", pod, restarted[pod], restarted)
		}
	}
	if s := stepNamed(op, "restart-rest"); s != nil && (len(s.Targets) != 1 || s.Targets[0].Name != oldPrimary.Name) {
		t.Errorf("restart-rest called %+v, want only the former primary %s", s.Targets, oldPrimary.Name)
	}
	if s := stepNamed(op, "switchover"); s != nil && len(s.Targets) != 1 {
		t.Errorf("switchover targets %+v, want the one WorkloadSet", s.Targets)
	}

	// In place: same Pods, no container restart, a new redis-server.
	after := componentPods(t, ns, comp)
	samePods(t, before, after)
	pidsAfter := serverInfo(t, ns, comp, password, before, "process_id")
	for pod, pid := range pidsBefore {
		if pidsAfter[pod] == pid {
			t.Errorf("pod %s: redis-server process_id is still %s: the process was not restarted", pod, pid)
		}
	}
	t.Logf("after: redis-server process_id by pod %v", pidsAfter)

	// No acknowledged write lost: on the primary (through the read-write
	// Service) and on every pod once replicated.
	if len(loop.acked) == 0 {
		t.Fatalf("no write was acknowledged during the Restart (last error %v)", loop.lastErr)
	}
	if loop.longest > maxWriteGap {
		t.Errorf("writes failed for %s in a row during the Restart; want a gap no longer than a switchover", loop.longest)
	}
	newPrimary := checkReplicatedRedis(t, ns, appName, 3, "plinth:rst:after", "v2")
	if newPrimary.Name == oldPrimary.Name {
		t.Errorf("the primary is still %s: the switchover did not move it", oldPrimary.Name)
	}
	rw := serviceAddr(t, ns, naming.RoleService(comp, "primary"), 6379)
	if err := keysPresent(rw, password, loop.acked); err != nil {
		t.Errorf("through the read-write Service: %v", err)
	}
	for pod := range before {
		eventually(t, time.Minute, func() error { return keysPresent(stableAddr(ns, comp, pod), password, loop.acked) })
	}
	waitPhase(t, ns, appName, plinthv1.ApplicationRunning, 2*time.Minute)
}

// Reload applies a dynamic parameter on every pod with no restart.
func TestOperationReload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := namespace(t)
	const appName = "rld"
	if err := api(t).Create(ctx, redisForOperations(ns, appName, "replication", 2)); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, ns, appName, plinthv1.ApplicationRunning, toRunning)
	checkReplicatedRedis(t, ns, appName, 2, "plinth:rld", "v1")
	comp := naming.Component(appName, "redis")
	password := secretValue(t, ns, naming.CredentialsSecret(appName), "password")
	pods := componentPods(t, ns, comp)
	pidsBefore := serverInfo(t, ns, comp, password, pods, "process_id")
	for pod, v := range configGet(t, ns, comp, password, pods, "maxmemory-policy") {
		if v == "allkeys-lru" {
			t.Fatalf("pod %s already has maxmemory-policy allkeys-lru: the test would prove nothing", pod)
		}
	}

	logOnFailure(t, ns, "reload")
	createOperation(t, ns, "reload", appName, "Reload", map[string]string{
		"settings": "maxmemory-policy allkeys-lru\nslowlog-max-len 256",
	})
	op := waitOperation(t, ns, "reload", plinthv1.OperationSucceeded, 3*time.Minute)
	t.Logf("%s", describeOperation(op))
	checkStepsSucceeded(t, op, "config-apply")
	if s := stepNamed(op, "config-apply"); s != nil && len(s.Targets) != len(pods) {
		t.Errorf("config-apply called %d pods, want %d: %+v", len(s.Targets), len(pods), s.Targets)
	}

	for pod, v := range configGet(t, ns, comp, password, pods, "maxmemory-policy") {
		if v != "allkeys-lru" {
			t.Errorf("pod %s: maxmemory-policy = %q after the Reload, want allkeys-lru", pod, v)
		}
	}
	for pod, v := range configGet(t, ns, comp, password, pods, "slowlog-max-len") {
		if v != "256" {
			t.Errorf("pod %s: slowlog-max-len = %q after the Reload, want 256", pod, v)
		}
	}
	pidsAfter := serverInfo(t, ns, comp, password, pods, "process_id")
	for pod, pid := range pidsBefore {
		if pidsAfter[pod] != pid {
			t.Errorf("pod %s: redis-server process_id %s -> %s: a Reload must not restart it", pod, pid, pidsAfter[pod])
		}
	}
	samePods(t, pods, componentPods(t, ns, comp))
}

// Operations that cannot run fail before any step, say why, and leave the
// Application as it was.
func TestOperationBadRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := namespace(t)
	other := namespace(t)
	const appName = "bad"
	if err := api(t).Create(ctx, redisForOperations(ns, appName, "replication", 1)); err != nil {
		t.Fatal(err)
	}
	// An Application of the same name pattern that lives only in the other
	// namespace.
	if err := api(t).Create(ctx, redisForOperations(other, "elsewhere", "replication", 1)); err != nil {
		t.Fatal(err)
	}
	generation := func(ns, name string) int64 {
		app := &plinthv1.Application{}
		if err := api(t).Get(ctx, crclient.ObjectKey{Namespace: ns, Name: name}, app); err != nil {
			t.Fatal(err)
		}
		return app.Generation
	}
	genBefore, otherBefore := generation(ns, appName), generation(other, "elsewhere")

	cases := []struct {
		op, target, template string
		params               map[string]string
		// want are words the error must contain.
		want []string
	}{
		{"unknown-template", appName, "NoSuchTemplate", nil, []string{`"NoSuchTemplate"`, "no operation template"}},
		{"too-many-replicas", appName, "HorizontalScale", map[string]string{"replicas": "99"}, []string{"replicas", "99"}},
		{"missing-target", "ghost", "Restart", nil, []string{`"ghost"`, "does not exist", ns}},
		{"other-namespace", "elsewhere", "Restart", nil, []string{`"elsewhere"`, "does not exist", ns}},
	}
	var names []string
	for _, c := range cases {
		names = append(names, c.op)
	}
	logOnFailure(t, ns, names...)
	for _, c := range cases {
		createOperation(t, ns, c.op, c.target, c.template, c.params)
	}
	for _, c := range cases {
		op := waitOperation(t, ns, c.op, plinthv1.OperationFailed, 2*time.Minute)
		t.Logf("%s: %s", c.op, op.Status.Error)
		for _, w := range c.want {
			if !strings.Contains(op.Status.Error, w) {
				t.Errorf("%s: the error %q does not name %s", c.op, op.Status.Error, w)
			}
		}
		if op.Status.StartTime != nil {
			t.Errorf("%s: started at %s: it must fail before any step", c.op, op.Status.StartTime)
		}
		for _, s := range op.Status.Steps {
			if s.Phase != plinthv1.StepSkipped && s.Phase != plinthv1.StepPending {
				t.Errorf("%s: step %s is %s: it must fail before any step", c.op, s.Name, s.Phase)
			}
		}
		cond := conditions.Get(op.Status.Conditions, plinthv1.ConditionSucceeded)
		if cond == nil || cond.Status != metav1.ConditionFalse {
			t.Errorf("%s: condition %s is %+v, want False", c.op, plinthv1.ConditionSucceeded, cond)
		}
	}
	if g := generation(ns, appName); g != genBefore {
		t.Errorf("Application %s changed: generation %d -> %d", appName, genBefore, g)
	}
	if g := generation(other, "elsewhere"); g != otherBefore {
		t.Errorf("Application elsewhere in %s changed: generation %d -> %d", other, otherBefore, g)
	}
}

// Two Operations on one target run one after the other: the second (a
// Reload) waits, Pending at queue position 1, until the first (a Restart)
// finished.
func TestOperationsOnOneTargetRunInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := namespace(t)
	const appName = "seq"
	if err := api(t).Create(ctx, redisForOperations(ns, appName, "replication", 2)); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, ns, appName, plinthv1.ApplicationRunning, toRunning)
	checkReplicatedRedis(t, ns, appName, 2, "plinth:seq", "v1")

	const op1, op2 = "op1-restart", "op2-reload"
	logOnFailure(t, ns, op1, op2)
	createOperation(t, ns, op1, appName, "Restart", nil)
	createOperation(t, ns, op2, appName, "Reload", map[string]string{"settings": "maxmemory-policy allkeys-lfu"})

	// While the first runs, the second is queued behind it and does not start.
	sawQueued := false
	eventually(t, 5*time.Minute, func() error {
		first, err := getOperation(t, ns, op1)
		if err != nil {
			return err
		}
		second, err := getOperation(t, ns, op2)
		if err != nil {
			return err
		}
		if second.Status.StartTime != nil && (first.Status.CompletionTime == nil || second.Status.StartTime.Before(first.Status.CompletionTime)) {
			t.Fatalf("the second Operation started while the first runs:\n%s\n%s", describeOperation(first), describeOperation(second))
		}
		if first.Status.Phase == plinthv1.OperationRunning && second.Status.Phase == plinthv1.OperationPending && second.Status.QueuePosition == 1 {
			if !sawQueued {
				t.Logf("while %s runs (step %d), %s is Pending at queue position 1", first.Name, first.Status.CurrentStep, second.Name)
			}
			sawQueued = true
		}
		if operationFinished(first.Status.Phase) {
			return nil
		}
		return fmt.Errorf("the first Operation is %s; the second %s at queue position %d", first.Status.Phase, second.Status.Phase, second.Status.QueuePosition)
	})
	if !sawQueued {
		t.Errorf("the second Operation was never seen Pending at queue position 1 while the first ran")
	}
	first := waitOperation(t, ns, op1, plinthv1.OperationSucceeded, time.Minute)
	second := waitOperation(t, ns, op2, plinthv1.OperationSucceeded, 3*time.Minute)
	t.Logf("%s\n%s", describeOperation(first), describeOperation(second))
	if second.Status.StartTime == nil || first.Status.CompletionTime == nil || second.Status.StartTime.Before(first.Status.CompletionTime) {
		t.Errorf("the second Operation started at %v, before the first completed at %v", second.Status.StartTime, first.Status.CompletionTime)
	}
	t.Logf("%s completed at %s; %s started at %s", op1, first.Status.CompletionTime, op2, second.Status.StartTime)
	if second.Status.QueuePosition != 0 {
		t.Errorf("the finished second Operation reports queue position %d", second.Status.QueuePosition)
	}
	checkStepsSucceeded(t, first, "restart-replicas", "switchover", "restart-rest", "wait-ready")
	checkStepsSucceeded(t, second, "config-apply")

	// Both took effect: the Reload's value is on every pod (a Restart after
	// it would have reset it to the configured noeviction).
	comp := naming.Component(appName, "redis")
	password := secretValue(t, ns, naming.CredentialsSecret(appName), "password")
	for pod, v := range configGet(t, ns, comp, password, componentPods(t, ns, comp), "maxmemory-policy") {
		if v != "allkeys-lfu" {
			t.Errorf("pod %s: maxmemory-policy = %q, want allkeys-lfu (the Reload ran second)", pod, v)
		}
	}
	waitPhase(t, ns, appName, plinthv1.ApplicationRunning, 2*time.Minute)
}
