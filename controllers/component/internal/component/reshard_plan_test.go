package component

import "testing"

func TestPlanReshard(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		formed, desired, existing int32
		want                      reshardPlan
	}{
		{"steady", 3, 3, 3, reshardPlan{formed: 3, target: 3}},
		{"scale-out: the new shard's WorkloadSet not made yet", 3, 4, 3, reshardPlan{direction: reshardOut, formed: 3, target: 4, span: 4}},
		{"scale-out: the new shard's WorkloadSet exists", 3, 4, 4, reshardPlan{direction: reshardOut, formed: 3, target: 4, span: 4}},
		{"scale-out by two", 3, 5, 3, reshardPlan{direction: reshardOut, formed: 3, target: 5, span: 5}},
		{"scale-in: every existing shard's pods are given", 4, 3, 4, reshardPlan{direction: reshardIn, formed: 4, target: 3, span: 4}},
		{"scale-in by two", 5, 3, 5, reshardPlan{direction: reshardIn, formed: 5, target: 3, span: 5}},
		{"a scale-out reverted before it succeeded: the extra shard is emptied first", 3, 3, 4, reshardPlan{direction: reshardIn, formed: 3, target: 3, span: 4}},
		{"scale-in done, the status not written: nothing left to move", 4, 3, 3, reshardPlan{formed: 3, target: 3}},
		{"bootstrapped before FormedShards existed", 0, 3, 3, reshardPlan{formed: 3, target: 3}},
		{"bootstrapped before FormedShards existed, scaled out since", 0, 4, 3, reshardPlan{direction: reshardOut, formed: 3, target: 4, span: 4}},
		{"bootstrapped before FormedShards existed, scaled in since", 0, 2, 3, reshardPlan{direction: reshardIn, formed: 3, target: 2, span: 3}},
		{"no WorkloadSet and nothing recorded", 0, 3, 0, reshardPlan{direction: reshardOut, formed: 1, target: 3, span: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := planReshard(tc.formed, tc.desired, tc.existing); got != tc.want {
				t.Errorf("planReshard(%d, %d, %d) = %+v, want %+v", tc.formed, tc.desired, tc.existing, got, tc.want)
			}
		})
	}
	if a, b := (reshardPlan{direction: reshardOut, target: 4}).op(), (reshardPlan{direction: reshardIn, target: 4}).op(); a == b {
		t.Errorf("scale-out and scale-in to the same count share the tracker key %q", a)
	}
}
