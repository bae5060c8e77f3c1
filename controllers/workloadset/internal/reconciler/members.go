package reconciler

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/plinth-io/plinth/apis/statusreport"
	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

const (
	// staleAfterHeartbeats: a report older than this many heartbeats makes
	// the member's role unknown.
	staleAfterHeartbeats = 3
	// defaultHeartbeat applies when spec.heartbeatSeconds is unset (the CRD
	// defaults it; objects written before the default existed may lack it).
	defaultHeartbeat = 10 * time.Second
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

// observeMember computes the status of the member running in pod from its
// previous status (nil for a new member), the pod's report annotation and the
// clock. Each distinct annotation value is judged once: an unchanged value is
// not judged (nor counted) again. It returns the reason a newly seen report
// was rejected, or nil.
func observeMember(prev *plinthv1.MemberStatus, pod *corev1.Pod, rev string, ws *plinthv1.WorkloadSet, now time.Time) (plinthv1.MemberStatus, error) {
	m := plinthv1.MemberStatus{}
	if prev != nil && prev.PodUID == pod.UID {
		m = *prev.DeepCopy()
	}
	m.Name = pod.Name
	m.PodUID = pod.UID
	m.Ready = podReady(pod)
	m.Updated = pod.Labels[plinthv1.LabelRevision] == rev
	hb := heartbeat(ws)

	var rejected error
	if raw, ok := pod.Annotations[plinthv1.AnnotationStatusReport]; ok {
		if d := reportDigest(raw); d != m.ReportDigest {
			m.ReportDigest = d
			rep, err := judgeReport(raw, &m, ws, now)
			if err != nil {
				rejected = err
			} else {
				m.Role = rep.Role
				m.Healthy = rep.Healthy
				m.Reason = truncate(rep.Reason, 256)
				m.Sequence = int64(rep.Sequence)
				t := metav1.NewTime(rep.Timestamp)
				m.LastReportTime = &t
			}
		}
	}
	if m.LastReportTime == nil || now.Sub(m.LastReportTime.Time) > staleAfterHeartbeats*hb {
		m.Role = plinthv1.RoleUnknown
		m.Healthy = false
		if m.LastReportTime != nil {
			m.Reason = fmt.Sprintf("no report for more than %d heartbeats (%s)", staleAfterHeartbeats, staleAfterHeartbeats*hb)
		}
	}
	return m, rejected
}

// judgeReport parses raw and checks it against the member's last accepted
// report, the declared roles and the clock.
func judgeReport(raw string, m *plinthv1.MemberStatus, ws *plinthv1.WorkloadSet, now time.Time) (*statusreport.Report, error) {
	rep, err := statusreport.Parse([]byte(raw))
	if err != nil {
		return nil, err
	}
	if err := rep.CheckTime(now, staleAfterHeartbeats*heartbeat(ws), maxReportClockSkew); err != nil {
		return nil, err
	}
	if int64(rep.Sequence) <= m.Sequence {
		return nil, fmt.Errorf("replayed status report: sequence %d is not above the last accepted %d", rep.Sequence, m.Sequence)
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
