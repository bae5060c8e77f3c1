package component

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

func TestRecordRunningVersions(t *testing.T) {
	comp := &plinthv1.Component{Spec: plinthv1.ComponentSpec{PluginVersion: "v1.1.0", Version: "7.4", Replicas: 3}}
	ws := func(observed, replicas, ready, updated int32) plinthv1.WorkloadSet {
		return plinthv1.WorkloadSet{
			ObjectMeta: metav1.ObjectMeta{Generation: 5},
			Spec:       plinthv1.WorkloadSetSpec{Replicas: 3},
			Status: plinthv1.WorkloadSetStatus{ObservedGeneration: int64(observed), Phase: plinthv1.ComponentRunning,
				Replicas: replicas, ReadyReplicas: ready, UpdatedReplicas: updated},
		}
	}
	tests := []struct {
		name  string
		phase plinthv1.ComponentPhase
		wss   []plinthv1.WorkloadSet
		want  string
	}{
		{"every member runs the new template", plinthv1.ComponentRunning, []plinthv1.WorkloadSet{ws(5, 3, 3, 3), ws(5, 3, 3, 3)}, "7.4"},
		{"the template is not observed yet", plinthv1.ComponentRunning, []plinthv1.WorkloadSet{ws(4, 3, 3, 3)}, "7.2"},
		{"a member runs the old template", plinthv1.ComponentRunning, []plinthv1.WorkloadSet{ws(5, 3, 3, 3), ws(5, 3, 3, 2)}, "7.2"},
		{"a member is not ready", plinthv1.ComponentRunning, []plinthv1.WorkloadSet{ws(5, 3, 2, 3)}, "7.2"},
		{"an old member is still there", plinthv1.ComponentRunning, []plinthv1.WorkloadSet{ws(5, 4, 3, 3)}, "7.2"},
		{"the component is updating", plinthv1.ComponentUpdating, []plinthv1.WorkloadSet{ws(5, 3, 3, 3)}, "7.2"},
		{"no WorkloadSets", plinthv1.ComponentRunning, nil, "7.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &plinthv1.ComponentStatus{Phase: tt.phase, PluginVersion: "v1.0.0", Version: "7.2"}
			recordRunningVersions(comp, tt.wss, st)
			if st.Version != tt.want {
				t.Errorf("status.version %q, want %q", st.Version, tt.want)
			}
			wantPV := "v1.0.0"
			if tt.want == "7.4" {
				wantPV = "v1.1.0"
			}
			if st.PluginVersion != wantPV {
				t.Errorf("status.pluginVersion %q, want %q", st.PluginVersion, wantPV)
			}
		})
	}
}
