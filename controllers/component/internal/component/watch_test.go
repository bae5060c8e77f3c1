package component

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

func TestWorkloadSetChangedIgnoresReportBookkeeping(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC))
	base := &plinthv1.WorkloadSet{
		ObjectMeta: metav1.ObjectMeta{Name: "ws", Generation: 2, Labels: map[string]string{"a": "b"}},
		Status: plinthv1.WorkloadSetStatus{ObservedGeneration: 2, Phase: plinthv1.ComponentRunning, Replicas: 1, ReadyReplicas: 1, UpdatedReplicas: 1,
			Members: []plinthv1.MemberStatus{{Name: "ws-0", Role: "primary", Healthy: true, Ready: true, Sequence: 3, LastReportTime: &now}}},
	}
	p := workloadSetChanged()
	for _, tt := range []struct {
		name   string
		mutate func(*plinthv1.WorkloadSet)
		want   bool
	}{
		{"report bookkeeping", func(ws *plinthv1.WorkloadSet) {
			later := metav1.NewTime(now.Add(30 * time.Second))
			ws.Status.Members[0].Sequence, ws.Status.Members[0].LastReportTime = 6, &later
		}, false},
		{"resourceVersion only", func(ws *plinthv1.WorkloadSet) { ws.ResourceVersion = "9" }, false},
		{"spec", func(ws *plinthv1.WorkloadSet) { ws.Generation = 3 }, true},
		{"labels", func(ws *plinthv1.WorkloadSet) { ws.Labels["a"] = "c" }, true},
		{"deletion", func(ws *plinthv1.WorkloadSet) { ws.DeletionTimestamp = &now }, true},
		{"phase", func(ws *plinthv1.WorkloadSet) { ws.Status.Phase = plinthv1.ComponentAbnormal }, true},
		{"ready replicas", func(ws *plinthv1.WorkloadSet) { ws.Status.ReadyReplicas = 0 }, true},
		{"updated replicas", func(ws *plinthv1.WorkloadSet) { ws.Status.UpdatedReplicas = 0 }, true},
		{"observed generation", func(ws *plinthv1.WorkloadSet) { ws.Status.ObservedGeneration = 1 }, true},
	} {
		n := base.DeepCopy()
		tt.mutate(n)
		if got := p.Update(event.UpdateEvent{ObjectOld: base, ObjectNew: n}); got != tt.want {
			t.Errorf("%s: reconcile = %v, want %v", tt.name, got, tt.want)
		}
	}
}
