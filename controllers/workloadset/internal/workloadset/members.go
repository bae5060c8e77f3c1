package workloadset

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/plinth-io/plinth/apis/statusreport"
	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/runtimeconfig"
)

const (
	// staleAfterHeartbeats: a report older than this many heartbeats makes
	// the member's role unknown.
	staleAfterHeartbeats = 3
	// defaultHeartbeat applies when spec.heartbeatSeconds is unset (the CRD
	// defaults it; objects written before the default existed may lack it).
	defaultHeartbeat = runtimeconfig.DefaultHeartbeat
	// maxReportClockSkew is how far ahead of the controller's clock a
	// report's timestamp may be.
	maxReportClockSkew = 10 * time.Second
)

// heartbeat is the status agents' report interval for ws.
func heartbeat(ws *plinthv1.WorkloadSet) time.Duration {
	if ws.Spec.HeartbeatSeconds <= 0 {
		return defaultHeartbeat
	}
	return time.Duration(ws.Spec.HeartbeatSeconds) * time.Second
}

// podReady reports whether the pod is running, ready and not going away.
func podReady(pod *corev1.Pod) bool {
	if pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// reportDigest identifies an annotation value without storing it.
func reportDigest(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:8])
}

// restoreReportState rebuilds a pod's report bookkeeping from its persisted
// member status, after a controller restart: see reportState.restored.
func restoreReportState(prev *plinthv1.MemberStatus, uid types.UID) reportState {
	if prev == nil || prev.PodUID != uid || prev.Sequence <= 0 {
		return reportState{}
	}
	st := reportState{sequence: prev.Sequence, role: prev.Role, healthy: prev.Healthy, reason: prev.Reason, restored: true}
	if prev.LastReportTime != nil {
		st.lastReport = prev.LastReportTime.Time
	}
	return st
}

// observeMember computes the status of the member running in pod from the
// pod's report bookkeeping (known), the pod's report annotation and the
// clock, and returns the updated bookkeeping. Each distinct annotation value
// is judged once: an unchanged value is not judged (nor counted) again. It
// returns the reason a newly seen report was rejected, or nil.
func observeMember(known reportState, pod *corev1.Pod, rev string, ws *plinthv1.WorkloadSet, now time.Time) (plinthv1.MemberStatus, reportState, error) {
	st := known
	var rejected error
	if raw, ok := pod.Annotations[plinthv1.AnnotationStatusReport]; ok {
		if d := reportDigest(raw); d != st.digest {
			st.digest = d
			rep, err := judgeReport(raw, &st, ws, now)
			if err != nil {
				rejected = err
			} else {
				st.role = rep.Role
				st.healthy = rep.Healthy
				st.reason = truncate(rep.Reason, 256)
				st.sequence = int64(rep.Sequence)
				st.lastReport = rep.Timestamp
				st.restored = false
			}
		}
	}

	m := plinthv1.MemberStatus{
		Name:     pod.Name,
		PodUID:   pod.UID,
		Ready:    podReady(pod),
		Updated:  pod.Labels[plinthv1.LabelRevision] == rev,
		Role:     st.role,
		Healthy:  st.healthy,
		Reason:   st.reason,
		Sequence: st.sequence,
	}
	if !st.lastReport.IsZero() {
		t := metav1.NewTime(st.lastReport)
		m.LastReportTime = &t
	}
	hb := heartbeat(ws)
	if m.LastReportTime == nil || now.Sub(st.lastReport) > staleAfterHeartbeats*hb {
		m.Role = plinthv1.RoleUnknown
		m.Healthy = false
		if m.LastReportTime != nil {
			m.Reason = fmt.Sprintf("no report for more than %d heartbeats (%s)", staleAfterHeartbeats, staleAfterHeartbeats*hb)
		}
	}
	return m, st, rejected
}

// judgeReport parses raw and checks it against the pod's last accepted
// report, the declared roles and the clock.
func judgeReport(raw string, st *reportState, ws *plinthv1.WorkloadSet, now time.Time) (*statusreport.Report, error) {
	rep, err := statusreport.Parse([]byte(raw))
	if err != nil {
		return nil, err
	}
	if err := rep.CheckTime(now, staleAfterHeartbeats*heartbeat(ws), maxReportClockSkew); err != nil {
		return nil, err
	}
	seq := int64(rep.Sequence)
	if seq < st.sequence || (seq == st.sequence && !st.restored) {
		return nil, fmt.Errorf("replayed status report: sequence %d is not above the last accepted %d", rep.Sequence, st.sequence)
	}
	if len(ws.Spec.Roles) > 0 && rep.Role != plinthv1.RoleUnknown && roleSpec(ws.Spec.Roles, rep.Role) == nil {
		return nil, fmt.Errorf("status report names role %q, which the WorkloadSet does not declare", rep.Role)
	}
	return rep, nil
}

// roleSpec finds a declared role by name.
func roleSpec(roles []plinthv1.RoleSpec, name string) *plinthv1.RoleSpec {
	i := slices.IndexFunc(roles, func(r plinthv1.RoleSpec) bool { return r.Name == name })
	if i < 0 {
		return nil
	}
	return &roles[i]
}

// available reports whether a member counts as up for rolling updates: its
// pod is ready and, when the WorkloadSet declares roles (so a status agent
// runs), its last report is fresh and healthy.
func available(m *plinthv1.MemberStatus, ws *plinthv1.WorkloadSet) bool {
	if !m.Ready {
		return false
	}
	return len(ws.Spec.Roles) == 0 || (m.Healthy && m.Role != plinthv1.RoleUnknown)
}

// nextStaleness is how long until the first fresh report of members goes
// stale, or 0 when none is fresh.
func nextStaleness(members []plinthv1.MemberStatus, hb time.Duration, now time.Time) time.Duration {
	var next time.Duration
	for _, m := range members {
		if m.LastReportTime == nil || m.Role == plinthv1.RoleUnknown {
			continue
		}
		d := m.LastReportTime.Add(staleAfterHeartbeats*hb).Sub(now) + time.Second
		if d > 0 && (next == 0 || d < next) {
			next = d
		}
	}
	return next
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
