package workloadset

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/plinth-io/plinth/apis/statusreport"
	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

var replicated = []plinthv1.RoleSpec{
	{Name: "primary", UpdatePriority: 10, Writable: true},
	{Name: "replica", UpdatePriority: 5},
	{Name: "learner", UpdatePriority: 1},
}

func TestNextPodToUpdate(t *testing.T) {
	c := func(name string, ord int, role string, updated, avail bool) updateCandidate {
		return updateCandidate{Name: name, Ordinal: ord, Role: role, Updated: updated, Available: avail}
	}
	tests := []struct {
		name    string
		members []updateCandidate
		roles   []plinthv1.RoleSpec
		want    string
		wait    bool
	}{
		{"nothing outdated", []updateCandidate{c("w-0", 0, "primary", true, true)}, replicated, "", false},
		{"writable last, highest ordinal first among replicas",
			[]updateCandidate{c("w-0", 0, "primary", false, true), c("w-1", 1, "replica", false, true), c("w-2", 2, "replica", false, true)}, replicated, "w-2", false},
		{"lowest update priority first",
			[]updateCandidate{c("w-0", 0, "replica", false, true), c("w-1", 1, "learner", false, true), c("w-2", 2, "primary", false, true)}, replicated, "w-1", false},
		{"writable only when the rest is done",
			[]updateCandidate{c("w-0", 0, "replica", true, true), c("w-1", 1, "primary", false, true), c("w-2", 2, "replica", true, true)}, replicated, "w-1", false},
		{"an updated pod that is not up yet blocks",
			[]updateCandidate{c("w-0", 0, "primary", false, true), c("w-1", 1, "replica", true, false), c("w-2", 2, "replica", false, true)}, replicated, "", true},
		{"an outdated pod that is down goes first, even the primary",
			[]updateCandidate{c("w-0", 0, "primary", false, false), c("w-1", 1, "replica", false, true)}, replicated, "w-0", false},
		{"undeclared and unknown roles before declared ones",
			[]updateCandidate{c("w-0", 0, "learner", false, true), c("w-1", 1, plinthv1.RoleUnknown, false, true)}, replicated, "w-1", false},
		{"no roles: highest ordinal first",
			[]updateCandidate{c("w-0", 0, plinthv1.RoleUnknown, false, true), c("w-3", 3, plinthv1.RoleUnknown, false, true), c("w-1", 1, plinthv1.RoleUnknown, false, true)}, nil, "w-3", false},
		{"no members", nil, replicated, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := nextPodToUpdate(tt.members, tt.roles)
			if d.Pod != tt.want || (d.Wait != "") != tt.wait {
				t.Fatalf("nextPodToUpdate = %+v, want pod %q wait %v", d, tt.want, tt.wait)
			}
		})
	}
}

func testWorkloadSet() *plinthv1.WorkloadSet {
	sc := "fast"
	return &plinthv1.WorkloadSet{
		ObjectMeta: metav1.ObjectMeta{Name: "redis", Namespace: "ns", UID: "ws-uid",
			Labels: map[string]string{plinthv1.LabelApplication: "app", plinthv1.LabelComponent: "redis", "other": "x"}},
		Spec: plinthv1.WorkloadSetSpec{
			Replicas:    3,
			ServiceName: "redis-headless",
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"t": "1", plinthv1.LabelRole: "primary"}},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "redis", Image: "redis:7.2"}},
					Volumes:    []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}, {Name: "conf"}},
				},
			},
			VolumeClaimTemplates: []plinthv1.VolumeClaimTemplate{{Name: "data", Size: resource.MustParse("1Gi"), StorageClassName: &sc}},
			HeartbeatSeconds:     10,
		},
	}
}

func TestDesiredPod(t *testing.T) {
	ws := testWorkloadSet()
	pod := desiredPod(ws, 2, "abc")
	if pod.Name != "redis-2" || pod.Namespace != "ns" || pod.Spec.Hostname != "redis-2" || pod.Spec.Subdomain != "redis-headless" {
		t.Fatalf("identity: %s/%s hostname %s subdomain %s", pod.Namespace, pod.Name, pod.Spec.Hostname, pod.Spec.Subdomain)
	}
	want := map[string]string{"t": "1", plinthv1.LabelWorkloadSet: "redis", plinthv1.LabelApplication: "app", plinthv1.LabelComponent: "redis", plinthv1.LabelRevision: "abc", plinthv1.LabelManagedBy: "plinth"}
	if fmt.Sprint(pod.Labels) != fmt.Sprint(want) {
		t.Fatalf("labels = %v, want %v", pod.Labels, want)
	}
	if ref := metav1.GetControllerOf(pod); ref == nil || ref.UID != "ws-uid" || ref.Kind != "WorkloadSet" {
		t.Fatalf("controller ref = %+v", ref)
	}
	if len(pod.Spec.Volumes) != 2 || pod.Spec.Volumes[0].PersistentVolumeClaim == nil || pod.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "data-redis-2" {
		t.Fatalf("volumes = %+v", pod.Spec.Volumes)
	}
	if ws.Spec.Template.Spec.Volumes[0].EmptyDir == nil || ws.Spec.Template.Labels[plinthv1.LabelRole] != "primary" {
		t.Fatal("desiredPod changed the WorkloadSet's template")
	}
}

func TestDesiredPVC(t *testing.T) {
	ws := testWorkloadSet()
	pvc := desiredPVC(ws, &ws.Spec.VolumeClaimTemplates[0], 1)
	if pvc.Name != "data-redis-1" || *pvc.Spec.StorageClassName != "fast" || pvc.Spec.AccessModes[0] != corev1.ReadWriteOnce {
		t.Fatalf("pvc = %+v", pvc)
	}
	if got := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; got.String() != "1Gi" {
		t.Fatalf("size = %s", got.String())
	}
	if len(pvc.OwnerReferences) != 0 || pvc.Labels[plinthv1.LabelWorkloadSet] != "redis" {
		t.Fatalf("PVC must be labelled and not owned: %+v", pvc.ObjectMeta)
	}
}

func TestRevision(t *testing.T) {
	ws := testWorkloadSet()
	a := revision(&ws.Spec.Template)
	if a != revision(ws.Spec.Template.DeepCopy()) {
		t.Fatal("revision is not deterministic")
	}
	ws.Spec.Template.Spec.Containers[0].Image = "redis:7.4"
	if a == revision(&ws.Spec.Template) {
		t.Fatal("revision ignores an image change")
	}
}

func TestOrdinalOf(t *testing.T) {
	ws := testWorkloadSet()
	for name, want := range map[string]int{"redis-0": 0, "redis-12": 12, "redis-01": -1, "redis-": -1, "redis-x": -1, "redis-1-0": -1, "other-1": -1, "redis--1": -1} {
		n, ok := ordinalOf(ws, name)
		if (want < 0 && ok) || (want >= 0 && (!ok || n != want)) {
			t.Errorf("ordinalOf(%q) = %d, %v; want %d", name, n, ok, want)
		}
	}
}

func TestValidate(t *testing.T) {
	if err := validate(testWorkloadSet()); err != nil {
		t.Fatalf("valid spec: %v", err)
	}
	for name, mutate := range map[string]func(*plinthv1.WorkloadSet){
		"long name":     func(ws *plinthv1.WorkloadSet) { ws.Name = strings.Repeat("a", 62) },
		"dotted name":   func(ws *plinthv1.WorkloadSet) { ws.Name = "redis.main" },
		"no containers": func(ws *plinthv1.WorkloadSet) { ws.Spec.Template.Spec.Containers = nil },
		"two writable": func(ws *plinthv1.WorkloadSet) {
			ws.Spec.Roles = []plinthv1.RoleSpec{{Name: "a", Writable: true}, {Name: "b", Writable: true}}
		},
		"bad role name":    func(ws *plinthv1.WorkloadSet) { ws.Spec.Roles = []plinthv1.RoleSpec{{Name: "Primary"}} },
		"role unknown":     func(ws *plinthv1.WorkloadSet) { ws.Spec.Roles = []plinthv1.RoleSpec{{Name: plinthv1.RoleUnknown}} },
		"zero volume size": func(ws *plinthv1.WorkloadSet) { ws.Spec.VolumeClaimTemplates[0].Size = resource.MustParse("0") },
	} {
		ws := testWorkloadSet()
		mutate(ws)
		if err := validate(ws); err == nil {
			t.Errorf("%s: validate accepted it", name)
		}
	}
}

func report(role string, healthy bool, ts time.Time, seq uint64) string {
	data, err := (&statusreport.Report{Role: role, Healthy: healthy, Timestamp: ts, Sequence: seq}).Marshal()
	if err != nil {
		panic(err)
	}
	return string(data)
}

func TestObserveMember(t *testing.T) {
	now := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	ws := testWorkloadSet()
	ws.Spec.Roles = replicated
	fresh := func(seq uint64) string { return report("primary", true, now.Add(-time.Second), seq) }
	accepted := func(seq int64, raw string) reportState {
		return reportState{role: "primary", healthy: true, sequence: seq, lastReport: now.Add(-2 * time.Second), digest: reportDigest(raw)}
	}
	// persisted is what a restarted controller finds in the status.
	persisted := func(seq int64) reportState {
		ts := metav1.NewTime(now.Add(-2 * time.Second))
		return restoreReportState(&plinthv1.MemberStatus{Name: "redis-0", PodUID: "pod-uid", Role: "primary", Healthy: true, Sequence: seq, LastReportTime: &ts}, "pod-uid")
	}
	tests := []struct {
		name     string
		known    reportState
		raw      *string
		wantRole string
		wantSeq  int64
		rejected error
	}{
		{"no report", reportState{}, nil, plinthv1.RoleUnknown, 0, nil},
		{"first valid report", reportState{}, ptr(fresh(1)), "primary", 1, nil},
		{"higher sequence", accepted(4, "old"), ptr(fresh(5)), "primary", 5, nil},
		{"replayed sequence", accepted(5, "old"), ptr(fresh(5)), "primary", 5, errReplay},
		{"lower sequence", accepted(5, "old"), ptr(fresh(2)), "primary", 5, errReplay},
		{"same annotation is not judged again", accepted(5, fresh(5)), ptr(fresh(5)), "primary", 5, nil},
		{"after a restart the persisted sequence is accepted once", persisted(5), ptr(fresh(5)), "primary", 5, nil},
		{"after a restart a lower sequence is a replay", persisted(5), ptr(fresh(4)), "primary", 5, errReplay},
		{"after a restart a higher sequence is accepted", persisted(5), ptr(fresh(9)), "primary", 9, nil},
		{"malformed", reportState{}, ptr(`{"role":`), plinthv1.RoleUnknown, 0, statusreport.ErrMalformed},
		{"oversized", reportState{}, ptr(strings.Repeat(" ", statusreport.MaxSize+1)), plinthv1.RoleUnknown, 0, statusreport.ErrOversized},
		{"stale on arrival", reportState{}, ptr(report("primary", true, now.Add(-31*time.Second), 1)), plinthv1.RoleUnknown, 0, statusreport.ErrStale},
		{"from the future", reportState{}, ptr(report("primary", true, now.Add(time.Hour), 1)), plinthv1.RoleUnknown, 0, statusreport.ErrFuture},
		{"undeclared role", reportState{}, ptr(report("leader", true, now, 1)), plinthv1.RoleUnknown, 0, errUndeclared},
		{"accepted report gone stale", reportState{role: "primary", healthy: true, sequence: 3, lastReport: now.Add(-31 * time.Second), digest: reportDigest("x")},
			ptr("x"), plinthv1.RoleUnknown, 3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "redis-0", UID: "pod-uid"}}
			if tt.raw != nil {
				pod.Annotations = map[string]string{plinthv1.AnnotationStatusReport: *tt.raw}
			}
			m, st, rejected := observeMember(tt.known, pod, "rev", ws, now)
			if m.Role != tt.wantRole {
				t.Errorf("role = %q, want %q", m.Role, tt.wantRole)
			}
			if m.Sequence != tt.wantSeq || st.sequence != tt.wantSeq {
				t.Errorf("sequence: member %d, kept %d; want %d", m.Sequence, st.sequence, tt.wantSeq)
			}
			switch {
			case tt.rejected == nil && rejected != nil:
				t.Errorf("rejected: %v", rejected)
			case tt.rejected == errReplay && (rejected == nil || !strings.Contains(rejected.Error(), "replayed")):
				t.Errorf("rejection = %v, want a replay", rejected)
			case tt.rejected == errUndeclared && (rejected == nil || !strings.Contains(rejected.Error(), "does not declare")):
				t.Errorf("rejection = %v, want an undeclared role", rejected)
			case tt.rejected != nil && tt.rejected != errReplay && tt.rejected != errUndeclared && !errors.Is(rejected, tt.rejected):
				t.Errorf("rejection = %v, want %v", rejected, tt.rejected)
			}
			if m.PodUID != "pod-uid" || m.ReportDigest != "" {
				t.Errorf("podUID = %q, reportDigest = %q", m.PodUID, m.ReportDigest)
			}
			// The same annotation again is not judged again.
			if tt.raw != nil {
				_, again, rejected := observeMember(st, pod, "rev", ws, now)
				if rejected != nil || again != st {
					t.Errorf("judged twice: %v, %+v -> %+v", rejected, st, again)
				}
			}
		})
	}
}

func TestRestoreReportState(t *testing.T) {
	ts := metav1.NewTime(time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC))
	prev := &plinthv1.MemberStatus{Name: "redis-0", PodUID: "pod-uid", Role: "replica", Healthy: true, Reason: "r", Sequence: 7, LastReportTime: &ts}
	if got := restoreReportState(prev, "other-uid"); got != (reportState{}) {
		t.Errorf("a recreated pod inherited %+v", got)
	}
	if got := restoreReportState(nil, "pod-uid"); got != (reportState{}) {
		t.Errorf("a new member got %+v", got)
	}
	want := reportState{sequence: 7, lastReport: ts.Time, role: "replica", healthy: true, reason: "r", restored: true}
	if got := restoreReportState(prev, "pod-uid"); got != want {
		t.Errorf("restored %+v, want %+v", got, want)
	}
}

func TestStatusChangedIgnoresBookkeeping(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *metav1.Time { x := metav1.NewTime(t0.Add(d)); return &x }
	base := plinthv1.WorkloadSetStatus{Phase: plinthv1.ComponentRunning, Members: []plinthv1.MemberStatus{
		{Name: "redis-0", PodUID: "u", Role: "primary", Healthy: true, Ready: true, Sequence: 4, ReportDigest: "d", LastReportTime: at(0)},
	}}
	window := 30 * time.Second
	for _, tt := range []struct {
		name   string
		mutate func(*plinthv1.MemberStatus)
		want   bool
	}{
		{"nothing", func(*plinthv1.MemberStatus) {}, false},
		{"a heartbeat", func(m *plinthv1.MemberStatus) {
			m.Sequence, m.ReportDigest, m.LastReportTime = 5, "", at(10*time.Second)
		}, false},
		{"report time just inside the window", func(m *plinthv1.MemberStatus) { m.Sequence, m.LastReportTime = 7, at(29*time.Second) }, false},
		{"report time a window behind", func(m *plinthv1.MemberStatus) { m.Sequence, m.LastReportTime = 7, at(30*time.Second) }, true},
		{"first report", func(m *plinthv1.MemberStatus) { m.LastReportTime = nil }, true},
		{"role", func(m *plinthv1.MemberStatus) { m.Role = "replica" }, true},
		{"healthy", func(m *plinthv1.MemberStatus) { m.Healthy = false }, true},
		{"ready", func(m *plinthv1.MemberStatus) { m.Ready = false }, true},
		{"updated", func(m *plinthv1.MemberStatus) { m.Updated = true }, true},
		{"reason", func(m *plinthv1.MemberStatus) { m.Reason = "slow" }, true},
		{"recreated pod", func(m *plinthv1.MemberStatus) { m.PodUID = "v" }, true},
	} {
		after := base.DeepCopy()
		tt.mutate(&after.Members[0])
		if got := statusChanged(&base, after, window); got != tt.want {
			t.Errorf("%s: changed = %v, want %v", tt.name, got, tt.want)
		}
	}
	after := base.DeepCopy()
	after.RejectedReports++
	if !statusChanged(&base, after, window) {
		t.Error("a rejected report is not written")
	}
	after = base.DeepCopy()
	after.Phase = plinthv1.ComponentAbnormal
	if !statusChanged(&base, after, window) {
		t.Error("a phase change is not written")
	}
}

var (
	errReplay     = errors.New("replay")
	errUndeclared = errors.New("undeclared")
)

func ptr[T any](v T) *T { return &v }
