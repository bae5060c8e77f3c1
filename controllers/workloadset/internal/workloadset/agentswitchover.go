package workloadset

import (
	"context"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/agentclient"
	"github.com/plinth-io/plinth/internal/agentrun"
	"github.com/plinth-io/plinth/internal/switchover"
)

// switchoverSettle is how long the roles may take to follow an issued
// switchover before it is issued again.
const switchoverSettle = 30 * time.Second

// AgentSwitchover runs a WorkloadSet's spec.switchover actions through the
// pods' ops agents (agentrun: mutual TLS, a timeout per call, output
// redacted and capped in the errors that reach conditions), moving the writable role to a replica. The
// role moves asynchronously: Prepare returns false after issuing the
// actions, and the rolling update replaces the old primary once it no longer
// reports the writable role (the designation follows the new primary).
type AgentSwitchover struct {
	Agents *agentclient.Client
	// Recorder records SwitchoverIssued on the WorkloadSet; nil records
	// nothing.
	Recorder events.EventRecorder
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
	if err := switchover.Issue(ctx, agentrun.Runner{Agents: a.Agents}, ws, pod.Name, candidate); err != nil {
		return false, err
	}
	if a.Recorder != nil {
		a.Recorder.Eventf(ws, nil, corev1.EventTypeNormal, plinthv1.EventReasonSwitchoverIssued, plinthv1.EventActionSwitchover,
			"moving the writable role from %s to %s before replacing %s", pod.Name, candidate, pod.Name)
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
