package workloadset

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/conditions"
)

// summarize fills counts, members, phase and the Ready and Progressing
// conditions from what this reconcile observed and did.
func summarize(s *scope) {
	st := &s.ws.Status
	st.UpdateRevision = s.rev
	st.Members = memberList(s)
	var live, ready, updated, up int32
	for _, pod := range s.pods {
		if pod.DeletionTimestamp != nil {
			continue
		}
		live++
		m := s.members[pod.Name]
		if m.Ready {
			ready++
		}
		if m.Updated {
			updated++
		}
		if available(m, s.ws) {
			up++
		}
	}
	desired := int32(s.desired)
	st.Replicas, st.ReadyReplicas, st.UpdatedReplicas = live, ready, updated
	st.Ready = fmt.Sprintf("%d/%d", ready, desired)

	conds, gen := &st.Conditions, s.ws.Generation
	progress := strings.Join(s.progress, "; ")
	set := func(phase plinthv1.ComponentPhase, reason, message string) {
		st.Phase = phase
		if phase == plinthv1.ComponentRunning {
			conditions.MarkTrue(conds, gen, plinthv1.ConditionReady, reason, message)
			conditions.MarkFalse(conds, gen, plinthv1.ConditionProgressing, reason, "nothing to do")
			return
		}
		conditions.MarkFalse(conds, gen, plinthv1.ConditionReady, reason, message)
		if progress != "" {
			conditions.MarkTrue(conds, gen, plinthv1.ConditionProgressing, reason, progress)
		} else {
			conditions.MarkFalse(conds, gen, plinthv1.ConditionProgressing, reason, message)
		}
	}
	notUp := notAvailable(s)
	writable := writableRole(s.ws)
	primaryUp := writable == "" || (s.members[st.Primary] != nil && s.members[st.Primary].Role == writable)
	switch {
	case s.invalid != nil:
		set(plinthv1.ComponentFailed, plinthv1.ReasonInvalidSpec, s.invalid.Error())
	case len(s.writers) > 1 && !s.ws.Spec.Stopped:
		set(plinthv1.ComponentAbnormal, plinthv1.ReasonMultiplePrimaries, fmt.Sprintf("%d members report role %s: %s; only the designated primary %s is labelled %s", len(s.writers), writable, strings.Join(s.writers, ", "), st.Primary, writable))
	case s.ws.Spec.Stopped && len(s.pods) == 0:
		set(plinthv1.ComponentStopped, plinthv1.ReasonStopped, "stopped: every pod is deleted, the PVCs are kept")
	case s.ws.Spec.Stopped:
		set(plinthv1.ComponentStopping, plinthv1.ReasonStopped, fmt.Sprintf("stopping: %d pods left", len(s.pods)))
	case len(s.pods) == s.desired && live == desired && updated == desired && up == desired && primaryUp:
		set(plinthv1.ComponentRunning, plinthv1.ReasonAvailable, fmt.Sprintf("%d/%d pods ready and up to date", ready, desired))
	case updated < live:
		set(plinthv1.ComponentUpdating, plinthv1.ReasonRollingUpdate, fmt.Sprintf("%d/%d pods run revision %s; %s", updated, desired, s.rev, notUp))
	case len(s.pods) != s.desired && (s.before.Phase == "" || s.before.Phase == plinthv1.ComponentCreating):
		set(plinthv1.ComponentCreating, plinthv1.ReasonCreating, fmt.Sprintf("%d/%d pods exist; %s", len(s.pods), desired, notUp))
	case len(s.pods) != s.desired:
		set(plinthv1.ComponentUpdating, plinthv1.ReasonScaling, fmt.Sprintf("%d pods exist, %d desired; %s", len(s.pods), desired, notUp))
	case s.before.Phase == "" || s.before.Phase == plinthv1.ComponentCreating:
		if !primaryUp && up == desired {
			notUp = fmt.Sprintf("waiting for the designated primary %q to report role %s", st.Primary, writable)
		}
		set(plinthv1.ComponentCreating, plinthv1.ReasonCreating, notUp)
	case !primaryUp && up == desired:
		set(plinthv1.ComponentAbnormal, plinthv1.ReasonNoPrimary, fmt.Sprintf("every pod is up but the designated primary %q does not report role %s", st.Primary, writable))
	default:
		set(plinthv1.ComponentAbnormal, plinthv1.ReasonMembersNotReady, notUp)
	}
}

// notAvailable lists the members that are not ready and healthy.
func notAvailable(s *scope) string {
	var out []string
	for _, m := range memberList(s) {
		if available(&m, s.ws) {
			continue
		}
		switch {
		case !m.Ready:
			out = append(out, m.Name+" is not ready")
		case m.Role == plinthv1.RoleUnknown:
			out = append(out, m.Name+" has no fresh status report")
		default:
			out = append(out, fmt.Sprintf("%s reports unhealthy (%s)", m.Name, m.Reason))
		}
	}
	if len(out) == 0 {
		return "every existing pod is ready"
	}
	return strings.Join(out, ", ")
}

// statusChanged reports whether after differs from before in anything a user
// cares about, that is in anything but the report bookkeeping that changes
// with every heartbeat:
//
//   - members[].sequence and members[].reportDigest never cause a write;
//     the sequence is written along with the changes that do, which is what
//     a restarted controller's replay protection starts from (see
//     reportState.restored);
//   - members[].lastReportTime causes a write when it appears, disappears
//     or moves by window or more (three heartbeats, the staleness limit):
//     the persisted time is at most that far behind the last accepted
//     report, while staleness itself is judged from the exact time kept in
//     memory, and a member going stale changes its role, which is written.
//
// With a 10 s heartbeat a pod whose role and health do not change costs one
// status write every 30 s instead of one every 10 s.
func statusChanged(before, after *plinthv1.WorkloadSetStatus, window time.Duration) bool {
	b, a := before.DeepCopy(), after.DeepCopy()
	for i := range a.Members {
		am := &a.Members[i]
		if i >= len(b.Members) || b.Members[i].Name != am.Name || b.Members[i].PodUID != am.PodUID {
			continue // the member list differs anyway
		}
		bm := &b.Members[i]
		am.Sequence, bm.Sequence = 0, 0
		am.ReportDigest, bm.ReportDigest = "", ""
		if closeEnough(bm.LastReportTime, am.LastReportTime, window) {
			am.LastReportTime = bm.LastReportTime
		}
	}
	return !equality.Semantic.DeepEqual(*b, *a)
}

// closeEnough reports whether two optional times are both unset, or both set
// and less than window apart.
func closeEnough(x, y *metav1.Time, window time.Duration) bool {
	if x == nil || y == nil {
		return x == nil && y == nil
	}
	d := x.Sub(y.Time)
	return d > -window && d < window
}
