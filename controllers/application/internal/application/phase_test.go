package application

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

// comp is a Component at generation 2 with replicas desired members.
func comp(name string, replicas int32, mutate ...func(*plinthv1.Component)) *plinthv1.Component {
	c := &plinthv1.Component{
		ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 2},
		Spec:       plinthv1.ComponentSpec{Replicas: replicas, Shards: 1},
	}
	for _, m := range mutate {
		m(c)
	}
	return c
}

func status(phase plinthv1.ComponentPhase, observed int64, ready int32) func(*plinthv1.Component) {
	return func(c *plinthv1.Component) {
		c.Status.Phase, c.Status.ObservedGeneration, c.Status.ReadyReplicas = phase, observed, ready
	}
}

func stoppedSpec(c *plinthv1.Component) { c.Spec.Stopped = true }

func TestAggregate(t *testing.T) {
	running := status(plinthv1.ComponentRunning, 2, 3)
	tests := []struct {
		name        string
		prev        plinthv1.ApplicationPhase
		specChanged bool
		stopped     bool
		comps       []*plinthv1.Component
		wantPhase   plinthv1.ApplicationPhase
		wantReady   string
		wantReason  string
	}{
		{"new, not observed yet", "", false, false, []*plinthv1.Component{comp("a", 1)}, plinthv1.ApplicationCreating, "0/1", plinthv1.ReasonCreating},
		{"new, creating", plinthv1.ApplicationCreating, false, false, []*plinthv1.Component{comp("a", 3, status(plinthv1.ComponentCreating, 2, 1))}, plinthv1.ApplicationCreating, "1/3", plinthv1.ReasonCreating},
		{"all ready", plinthv1.ApplicationCreating, false, false, []*plinthv1.Component{comp("a", 3, running), comp("b", 3, running)}, plinthv1.ApplicationRunning, "6/6", plinthv1.ReasonAvailable},
		{"ready by condition", "", false, false, []*plinthv1.Component{comp("a", 1, status("", 2, 1), func(c *plinthv1.Component) {
			c.Status.Conditions = []metav1.Condition{{Type: plinthv1.ConditionReady, Status: metav1.ConditionTrue}}
		})}, plinthv1.ApplicationRunning, "1/1", plinthv1.ReasonAvailable},
		{"ready counts but status is of an older generation", plinthv1.ApplicationRunning, false, false, []*plinthv1.Component{comp("a", 3, status(plinthv1.ComponentRunning, 1, 3))}, plinthv1.ApplicationUpdating, "3/3", plinthv1.ReasonUpdating},
		{"was running, spec changed", plinthv1.ApplicationRunning, true, false, []*plinthv1.Component{comp("a", 3, status(plinthv1.ComponentRunning, 2, 2))}, plinthv1.ApplicationUpdating, "2/3", plinthv1.ReasonUpdating},
		{"was running, component updating", plinthv1.ApplicationRunning, false, false, []*plinthv1.Component{comp("a", 3, status(plinthv1.ComponentUpdating, 2, 2))}, plinthv1.ApplicationUpdating, "2/3", plinthv1.ReasonUpdating},
		{"was running, members lost", plinthv1.ApplicationRunning, false, false, []*plinthv1.Component{comp("a", 3, status(plinthv1.ComponentAbnormal, 2, 1))}, plinthv1.ApplicationAbnormal, "1/3", plinthv1.ReasonMembersNotReady},
		{"stays abnormal", plinthv1.ApplicationAbnormal, false, false, []*plinthv1.Component{comp("a", 3, status(plinthv1.ComponentRunning, 2, 2))}, plinthv1.ApplicationAbnormal, "2/3", plinthv1.ReasonMembersNotReady},
		{"stopping", plinthv1.ApplicationRunning, true, true, []*plinthv1.Component{comp("a", 3, stoppedSpec, status(plinthv1.ComponentRunning, 1, 3))}, plinthv1.ApplicationStopping, "0/0", plinthv1.ReasonStopped},
		{"stopped", plinthv1.ApplicationStopping, false, true, []*plinthv1.Component{comp("a", 3, stoppedSpec, status(plinthv1.ComponentStopped, 2, 0))}, plinthv1.ApplicationStopped, "0/0", plinthv1.ReasonStopped},
		{"starting again", plinthv1.ApplicationStopped, true, false, []*plinthv1.Component{comp("a", 3, status(plinthv1.ComponentStopped, 1, 0))}, plinthv1.ApplicationUpdating, "0/3", plinthv1.ReasonUpdating},
		{"no components yet", "", false, false, nil, plinthv1.ApplicationCreating, "0/0", plinthv1.ReasonCreating},
		{"sharded counts every shard", "", false, false, []*plinthv1.Component{comp("a", 2, func(c *plinthv1.Component) { c.Spec.Shards = 3 }, status(plinthv1.ComponentRunning, 2, 6))}, plinthv1.ApplicationRunning, "6/6", plinthv1.ReasonAvailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := aggregate(tt.prev, tt.specChanged, tt.stopped, tt.comps)
			if a.Phase != tt.wantPhase || a.Ready != tt.wantReady || a.ReadyReason != tt.wantReason {
				t.Errorf("got %s %s %s, want %s %s %s (%s)", a.Phase, a.Ready, a.ReadyReason, tt.wantPhase, tt.wantReady, tt.wantReason, a.ReadyMessage)
			}
			wantTrue := tt.wantPhase == plinthv1.ApplicationRunning
			if (a.ReadyStatus == metav1.ConditionTrue) != wantTrue {
				t.Errorf("Ready %s in phase %s", a.ReadyStatus, a.Phase)
			}
			if len(a.Components) != len(tt.comps) {
				t.Errorf("%d summaries for %d components", len(a.Components), len(tt.comps))
			}
			if a.ReadyMessage == "" {
				t.Error("empty Ready message")
			}
		})
	}
}

func TestAggregateNamesWhatItWaitsFor(t *testing.T) {
	a := aggregate(plinthv1.ApplicationRunning, false, false, []*plinthv1.Component{
		comp("cache-redis", 3, status(plinthv1.ComponentRunning, 2, 3)),
		comp("cache-sentinel", 3, status(plinthv1.ComponentAbnormal, 2, 1)),
	})
	if !strings.Contains(a.ReadyMessage, "cache-sentinel (Abnormal, 1/3 ready)") || strings.Contains(a.ReadyMessage, "cache-redis") {
		t.Errorf("message %q should name only the component that is not ready", a.ReadyMessage)
	}
}

func TestRolledOut(t *testing.T) {
	app := &plinthv1.Application{Spec: plinthv1.ApplicationSpec{PluginVersion: "v1.1.0", Version: "7.4"}}
	runs := func(pluginVersion, version string) func(*plinthv1.Component) {
		return func(c *plinthv1.Component) {
			c.Spec.PluginVersion, c.Spec.Version = "v1.1.0", "7.4"
			c.Status.PluginVersion, c.Status.Version = pluginVersion, version
		}
	}
	running := status(plinthv1.ComponentRunning, 2, 3)
	tests := []struct {
		name  string
		comps []*plinthv1.Component
		want  bool
	}{
		{"every component runs the new versions", []*plinthv1.Component{comp("a", 3, runs("v1.1.0", "7.4"), running), comp("b", 3, runs("v1.1.0", "7.4"), running)}, true},
		{"no components", nil, false},
		{"one component still runs the old version", []*plinthv1.Component{comp("a", 3, runs("v1.1.0", "7.4"), running), comp("b", 3, runs("v1.1.0", "7.2"), running)}, false},
		{"the old plugin version still runs", []*plinthv1.Component{comp("a", 3, runs("v1.0.0", "7.4"), running)}, false},
		{"a component has not observed its spec", []*plinthv1.Component{comp("a", 3, runs("v1.1.0", "7.4"), status(plinthv1.ComponentRunning, 1, 3))}, false},
		{"a component is not ready", []*plinthv1.Component{comp("a", 3, runs("v1.1.0", "7.4"), status(plinthv1.ComponentAbnormal, 2, 2))}, false},
		{"a component does not carry the spec's version yet", []*plinthv1.Component{comp("a", 3, runs("v1.1.0", "7.4"), running, func(c *plinthv1.Component) {
			c.Spec.Version, c.Status.Version = "7.2", "7.2"
		})}, false},
		{"nothing ran yet", []*plinthv1.Component{comp("a", 3, runs("", ""), status(plinthv1.ComponentCreating, 2, 0))}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rolledOut(app, tt.comps); got != tt.want {
				t.Errorf("rolledOut = %v, want %v", got, tt.want)
			}
		})
	}
}
