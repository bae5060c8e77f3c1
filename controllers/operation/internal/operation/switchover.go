package operation

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/agentrun"
	"github.com/plinth-io/plinth/internal/switchover"
	"github.com/plinth-io/plinth/pluginregistry"
)

// intents remembers the switchovers this process decided to issue and has
// not issued yet: a target's Baseline (the intent's time, persisted before
// the actions run) that is not here was set by another process, which may
// have issued it, so the role gets switchoverSettle to move before the
// actions run again. That keeps a restarted controller from switching over
// twice.
type intents struct {
	mu sync.Mutex
	m  map[string]int64
}

func (in *intents) set(key string, at int64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.m == nil {
		in.m = map[string]int64{}
	}
	in.m[key] = at
}

// take reports whether this process recorded the intent at (and forgets it).
func (in *intents) take(key string, at int64) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	ok := in.m[key] == at
	delete(in.m, key)
	return ok
}

// planSwitchover chooses the WorkloadSets to switch over: the candidate's,
// or every one with a writable role and more than one member.
func planSwitchover(sw *pluginregistry.SwitchoverOp, ms []member, wss []plinthv1.WorkloadSet) ([]plinthv1.StepTarget, error) {
	var out []plinthv1.StepTarget
	for _, ws := range membersByWorkloadSet(ms) {
		if sw.Candidate != "" {
			for _, m := range ws {
				if m.Name == sw.Candidate {
					out = append(out, plinthv1.StepTarget{Name: m.WorkloadSet, Phase: plinthv1.StepPending, Detail: sw.Candidate})
				}
			}
			continue
		}
		if len(ws) > 1 && writableDeclared(wss, ws[0].WorkloadSet) {
			out = append(out, plinthv1.StepTarget{Name: ws[0].WorkloadSet, Phase: plinthv1.StepPending})
		}
	}
	if sw.Candidate != "" && len(out) == 0 {
		return nil, failf("the candidate %q is not a pod of component %s", sw.Candidate, sw.Component)
	}
	return out, nil
}

func membersByWorkloadSet(ms []member) [][]member {
	var out [][]member
	for _, m := range ms {
		if len(out) == 0 || out[len(out)-1][0].WorkloadSet != m.WorkloadSet {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], m)
	}
	return out
}

func writableDeclared(wss []plinthv1.WorkloadSet, name string) bool {
	for _, ws := range wss {
		if ws.Name != name {
			continue
		}
		for _, r := range ws.Spec.Roles {
			if r.Writable {
				return len(ws.Spec.Switchover) > 0
			}
		}
	}
	return false
}

// checkCandidate says why cand cannot take the writable role in ws now.
func checkCandidate(ms []member, ws, cand string) error {
	for _, m := range ms {
		if m.WorkloadSet != ws || m.Name != cand {
			continue
		}
		switch {
		case m.Primary || m.Writable:
			return fmt.Errorf("%s already holds the writable role", cand)
		case !m.Ready || !m.Healthy:
			return fmt.Errorf("%s is not a healthy replica (ready %t, healthy %t, role %q, reason %q)", cand, m.Ready, m.Healthy, m.Role, m.Reason)
		case m.Role == "" || m.Role == "unknown":
			return fmt.Errorf("%s reports no role", cand)
		}
		return nil
	}
	return fmt.Errorf("%s is not a member of WorkloadSet %s", cand, ws)
}

func (r *Reconciler) runSwitchover(ctx context.Context, s *scope, sw *pluginregistry.SwitchoverOp, rec *plinthv1.StepStatus) (bool, time.Duration, error) {
	ms, wss, err := r.members(ctx, s, sw.Component)
	if err != nil {
		return false, 0, err
	}
	if rec.Targets == nil {
		targets, err := planSwitchover(sw, ms, wss)
		if err != nil {
			return false, 0, err
		}
		rec.Targets = targets
		if len(targets) == 0 {
			rec.Targets = []plinthv1.StepTarget{}
			rec.Message = fmt.Sprintf("nothing to switch over: no WorkloadSet of component %s has a writable role, switchover actions and more than one member", sw.Component)
			return true, 0, nil
		}
		return false, nextStep, nil
	}
	now := metav1.NewTime(s.now)
	for i := range rec.Targets {
		t := &rec.Targets[i]
		if t.Phase == plinthv1.StepSucceeded {
			continue
		}
		var ws *plinthv1.WorkloadSet
		for j := range wss {
			if wss[j].Name == t.Name {
				ws = &wss[j]
			}
		}
		if ws == nil {
			return false, 0, failf("WorkloadSet %s is gone", t.Name)
		}
		key := string(s.op.UID) + "/" + t.Name
		if t.Phase != plinthv1.StepRunning {
			cand := t.Detail
			if cand == "" {
				cand = switchoverCandidate(ms, ws.Name)
			}
			if cand == "" {
				return false, 0, fmt.Errorf("no healthy replica in %s to switch over to", ws.Name)
			}
			if cand == ws.Status.Primary {
				t.Phase, t.CompletionTime, t.Message = plinthv1.StepSucceeded, &now, fmt.Sprintf("%s already holds the writable role", cand)
				continue
			}
			if err := checkCandidate(ms, ws.Name, cand); err != nil {
				return false, 0, err
			}
			t.Detail, t.Phase, t.StartTime, t.Baseline = cand, plinthv1.StepRunning, &now, s.now.UnixNano()
			t.Message = fmt.Sprintf("moving the writable role from %s to %s", ws.Status.Primary, cand)
			r.intents.set(key, t.Baseline)
			return false, nextStep, nil
		}
		cand := t.Detail
		if ws.Status.Primary == cand && writableMember(ms, cand) {
			done, after, err := r.designationSettled(ctx, s, ws, t)
			if err != nil || !done {
				return false, after, err
			}
			t.Phase = plinthv1.StepSucceeded
			continue
		}
		switch {
		case r.intents.take(key, t.Baseline):
			s.log.Info("switching over", "workloadSet", ws.Name, "from", ws.Status.Primary, "to", cand)
			if err := switchover.Issue(ctx, agentrun.Runner{Agents: r.agents}, ws, ws.Status.Primary, cand); err != nil {
				t.Message = truncate("switchover failed: "+err.Error(), 1024)
				if k := agentrun.KindOf(err); k == agentrun.Exited || k == agentrun.Refused {
					return false, 0, failf("switchover of %s to %s: %v", ws.Name, cand, err)
				}
				// Try again after the settle time, with a new intent.
				return false, switchoverSettle, nil
			}
			t.Message = fmt.Sprintf("switchover to %s issued; waiting for the designation to follow", cand)
			return false, pollWait / 2, nil
		case s.now.Sub(time.Unix(0, t.Baseline)) >= switchoverSettle:
			if err := checkCandidate(ms, ws.Name, cand); err != nil {
				return false, 0, fmt.Errorf("the role did not move to %s within %s, and it cannot be asked again: %w", cand, switchoverSettle, err)
			}
			t.Baseline = s.now.UnixNano()
			t.Message = fmt.Sprintf("the role did not move to %s within %s; issuing the switchover again", cand, switchoverSettle)
			r.intents.set(key, t.Baseline)
			return false, nextStep, nil
		default:
			return false, pollWait / 2, nil
		}
	}
	var moved []string
	for _, t := range rec.Targets {
		moved = append(moved, t.Name+" -> "+t.Detail)
	}
	rec.Message = "the writable role moved: " + strings.Join(moved, ", ")
	return true, 0, nil
}

func writableMember(ms []member, name string) bool {
	for _, m := range ms {
		if m.Name == name && m.Writable {
			return true
		}
	}
	return false
}

// designationSettled: once the role moved, every pod of ws must carry the
// new designation (the workloadset-controller's annotations) and
// topologySettle must pass, so that the kubelet has refreshed the pods'
// topology files: a process restarted by a later step reads the new
// primary there, not the old one (which would start a second primary).
// CompletionTime records when every pod was first seen annotated.
func (r *Reconciler) designationSettled(ctx context.Context, s *scope, ws *plinthv1.WorkloadSet, t *plinthv1.StepTarget) (bool, time.Duration, error) {
	var pods corev1.PodList
	if err := r.client.List(ctx, &pods, client.InNamespace(ws.Namespace), client.MatchingLabels{plinthv1.LabelWorkloadSet: ws.Name}); err != nil {
		return false, 0, fmt.Errorf("listing the pods of %s: %w", ws.Name, err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Annotations[plinthv1.AnnotationPrimary] != t.Detail {
			t.Message = fmt.Sprintf("the writable role moved to %s; waiting for pod %s to carry the new designation", t.Detail, p.Name)
			return false, pollWait / 2, nil
		}
	}
	if t.CompletionTime == nil {
		now := metav1.NewTime(s.now)
		t.CompletionTime = &now
		t.Message = fmt.Sprintf("the writable role moved to %s; every pod carries the designation", t.Detail)
		return false, topologySettle, nil
	}
	if left := topologySettle - s.now.Sub(t.CompletionTime.Time); left > 0 {
		return false, left, nil
	}
	return true, 0, nil
}
