package workloadset

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/agentclient"
	"github.com/plinth-io/plinth/pluginregistry"
	agentv1 "github.com/plinth-io/plinth/proto/gen/agent/v1"
)

// switchoverSettle is how long the roles may take to follow an issued
// switchover before it is issued again.
const switchoverSettle = 30 * time.Second

// maxActionOutput caps the action output quoted in an error (and so in the
// WorkloadSet's conditions).
const maxActionOutput = 200

// AgentSwitchover runs a WorkloadSet's spec.switchover actions through the
// pods' ops agents (mutual TLS), moving the writable role to a replica. The
// role moves asynchronously: Prepare returns false after issuing the
// actions, and the rolling update replaces the old primary once it no longer
// reports the writable role (the designation follows the new primary).
type AgentSwitchover struct {
	Agents *agentclient.Client
	// Now is the clock (tests).
	Now func() time.Time

	mu     sync.Mutex
	issued map[types.UID]time.Time
}

// Prepare implements Switchover.
func (a *AgentSwitchover) Prepare(ctx context.Context, ws *plinthv1.WorkloadSet, pod *corev1.Pod, members []plinthv1.MemberStatus) (bool, error) {
	if len(ws.Spec.Switchover) == 0 {
		return true, nil
	}
	candidate := switchoverCandidate(ws, pod.Name, members)
	if candidate == "" {
		// A single member has nowhere to move the role: it is replaced
		// with an outage. Otherwise wait for a replica to be up.
		return len(members) <= 1, nil
	}
	now := a.now()
	a.mu.Lock()
	last, pending := a.issued[pod.UID]
	a.mu.Unlock()
	if pending && now.Sub(last) < switchoverSettle {
		return false, nil
	}
	host := func(name string) string { return fmt.Sprintf("%s.%s.%s.svc", name, ws.Spec.ServiceName, ws.Namespace) }
	values := map[string]string{
		pluginregistry.SwitchoverCandidate:     candidate,
		pluginregistry.SwitchoverCandidateHost: host(candidate),
		pluginregistry.SwitchoverPrimary:       pod.Name,
		pluginregistry.SwitchoverPrimaryHost:   host(pod.Name),
	}
	log := ctrl.LoggerFrom(ctx)
	for _, st := range ws.Spec.Switchover {
		target := pod.Name
		if st.Target == pluginregistry.SwitchoverOnCandidate {
			target = candidate
		}
		params := map[string]string{}
		for _, p := range st.Parameters {
			if v, ok := values[p]; ok {
				params[p] = v
			}
		}
		log.Info("switching over: running an action through the ops agent", "action", st.Action, "pod", target, "from", pod.Name, "to", candidate)
		resp, err := a.Agents.Execute(ctx, agentclient.Pod{
			Namespace: ws.Namespace, Name: target, Service: ws.Spec.ServiceName, Application: ws.Labels[plinthv1.LabelApplication],
		}, &agentv1.ExecuteRequest{Action: st.Action, Parameters: params})
		if err != nil {
			return false, fmt.Errorf("action %s on pod %s: %w", st.Action, target, err)
		}
		if resp.GetExitCode() != 0 {
			return false, fmt.Errorf("action %s on pod %s exited with %d: %s", st.Action, target, resp.GetExitCode(), truncate(resp.GetOutput(), maxActionOutput))
		}
	}
	a.mu.Lock()
	if a.issued == nil {
		a.issued = map[types.UID]time.Time{}
	}
	for uid, t := range a.issued {
		if now.Sub(t) > 10*switchoverSettle {
			delete(a.issued, uid)
		}
	}
	a.issued[pod.UID] = now
	a.mu.Unlock()
	return false, nil
}

func (a *AgentSwitchover) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// switchoverCandidate picks the replica to take the writable role from
// primary: a ready, healthy member reporting a declared, non-writable role,
// already on the new revision if any is, lowest ordinal first.
func switchoverCandidate(ws *plinthv1.WorkloadSet, primary string, members []plinthv1.MemberStatus) string {
	var cands []plinthv1.MemberStatus
	for _, m := range members {
		rs := roleSpec(ws.Spec.Roles, m.Role)
		if m.Name == primary || rs == nil || rs.Writable || !m.Ready || !m.Healthy {
			continue
		}
		cands = append(cands, m)
	}
	slices.SortStableFunc(cands, func(a, b plinthv1.MemberStatus) int {
		if a.Updated != b.Updated {
			if a.Updated {
				return -1
			}
			return 1
		}
		x, _ := ordinalOf(ws, a.Name)
		y, _ := ordinalOf(ws, b.Name)
		return x - y
	})
	if len(cands) == 0 {
		return ""
	}
	return cands[0].Name
}
