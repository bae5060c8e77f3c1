package component

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/conditions"
	"github.com/plinth-io/plinth/internal/naming"
)

// reshardDirection says which way the shard count of a formed cluster moves.
type reshardDirection string

const (
	reshardNone reshardDirection = ""
	reshardOut  reshardDirection = "out"
	reshardIn   reshardDirection = "in"
)

// reshardAnnounced is the wait between recording that a reshard action is
// about to run and running it.
const reshardAnnounced = time.Second

// opReshard prefixes the reshard operations' tracker keys.
const opReshard = "reshard/"

// reshardPlan is what the reshard phase does for a bootstrapped component.
type reshardPlan struct {
	direction reshardDirection
	// formed is the shard count the cluster has now; target the one the
	// spec asks for (what a success leaves).
	formed, target int32
	// span is the number of shards whose pods the action is given: every
	// shard that exists when scaling in (the leaving ones last), every
	// desired one when scaling out.
	span int32
}

// op is the plan's tracker key: one success per direction and target.
func (p reshardPlan) op() string { return fmt.Sprintf("%s%s/%d", opReshard, p.direction, p.target) }

// planReshard decides the reshard phase of a bootstrapped component.
// formed is the shard count the status records (0: none recorded, the
// component was bootstrapped before FormedShards existed), desired the
// spec's, existing the number of shard WorkloadSets there were before this
// reconcile applied the desired ones (highest shard + 1).
//
// WorkloadSets beyond the desired shards always mean scale-in first, even
// when the status says the cluster never grew (a scale-out interrupted,
// then reverted, may have moved slots to them): their WorkloadSets go only
// after the scale-in action succeeded. Otherwise more desired shards than
// formed ones mean scale-out.
func planReshard(formed, desired, existing int32) reshardPlan {
	if formed < 1 {
		formed = max(existing, 1)
	}
	p := reshardPlan{formed: formed, target: desired}
	switch {
	case existing > desired:
		p.direction, p.span = reshardIn, existing
	case desired > formed:
		p.direction, p.span = reshardOut, desired
	default:
		// Nothing to move: no WorkloadSet beyond the desired ones is left.
		p.formed = desired
	}
	return p
}

// shardNames are the WorkloadSet names of shards [0, n).
func shardNames(in *inputs, n int32) []string {
	names := make([]string, 0, n)
	for s := int32(0); s < n; s++ {
		names = append(names, naming.WorkloadSet(in.comp.Name, s))
	}
	return names
}

// reshardOutcome is what the reshard phase tells the rest of the reconcile.
type reshardOutcome struct {
	// release: WorkloadSets beyond the desired shards may be deleted.
	release bool
	// holding, when set, says why the component is not Running.
	holding string
	// again is when to look again (0: an event will tell).
	again time.Duration
}

// reconcileReshard runs the topology's reshard actions when the shard count
// of the formed cluster changes: scale-out once every pod of the desired
// shards is Ready, scale-in (before the leaving shards' WorkloadSets are
// deleted) once every pod of every existing shard is. It records the shard
// count in FormedShards and the progress in the Resharding condition. wss
// are the component's WorkloadSets (desired and leaving, with status);
// existing is the shard count before this reconcile applied the desired ones.
func (r *Reconciler) reconcileReshard(ctx context.Context, in *inputs, wss []plinthv1.WorkloadSet, existing int32, st *plinthv1.ComponentStatus) reshardOutcome {
	if in.topo.Reshard == nil || in.topo.Bootstrap == nil || !conditions.IsTrue(st.Conditions, plinthv1.ConditionBootstrapped) {
		return reshardOutcome{release: true}
	}
	comp, gen := in.comp, in.comp.Generation
	p := planReshard(st.FormedShards, in.shards(), existing)
	if p.direction == reshardNone {
		st.FormedShards = p.formed
		r.forgetTracked(comp.UID, opReshard, "")
		conditions.MarkFalse(&st.Conditions, gen, plinthv1.ConditionResharding, plinthv1.ReasonResharded, fmt.Sprintf("the cluster has the %d shards the spec asks for", p.formed))
		return reshardOutcome{release: true}
	}
	what := fmt.Sprintf("resharding from %d to %d shards", p.formed, p.target)
	if p.direction == reshardIn && p.formed <= p.target {
		what = fmt.Sprintf("moving everything off the WorkloadSets of shards %d to %d before deleting them", p.target, p.span-1)
	}
	// Only the operation the plan wants now is remembered: a success of
	// another (a scale-in before the shards were changed again) must not
	// stand for this one.
	r.forgetTracked(comp.UID, opReshard, p.op())
	a := r.tracked(comp.UID, p.op())
	if a.done != "" {
		// Succeeded, but the cache does not show the status written then yet
		// (or the leaving WorkloadSets are still being deleted).
		st.FormedShards = a.shards
		conditions.MarkFalse(&st.Conditions, gen, plinthv1.ConditionResharding, plinthv1.ReasonResharded, what+": "+a.done)
		return reshardOutcome{release: true}
	}
	action, reason := in.topo.Reshard.ScaleOut.Action, plinthv1.ReasonScalingOut
	if p.direction == reshardIn {
		action, reason = in.topo.Reshard.ScaleIn.Action, plinthv1.ReasonScalingIn
	}
	out := reshardOutcome{holding: what + " (see the Resharding condition)"}
	if comp.Spec.Stopped {
		conditions.MarkTrue(&st.Conditions, gen, plinthv1.ConditionResharding, reason, what+": waits until the component is started again")
		return out
	}
	call, ready, total := clusterCall(in, wss, action, shardNames(in, p.span), p.target)
	if call == nil {
		if a.failures == 0 {
			conditions.MarkTrue(&st.Conditions, gen, plinthv1.ConditionResharding, reason,
				fmt.Sprintf("%s: waiting for every pod to be Ready before running the %s action: %d/%d ready", what, action, ready, total))
		}
		return out
	}
	if prev := conditions.Get(comp.Status.Conditions, plinthv1.ConditionResharding); prev == nil || prev.Status != metav1.ConditionTrue {
		// Say it first: the status is written after the action otherwise,
		// and the component would look Running while it reshards.
		conditions.MarkTrue(&st.Conditions, gen, plinthv1.ConditionResharding, reason, fmt.Sprintf("%s: running the %s action", what, action))
		out.again = reshardAnnounced
		return out
	}
	res := r.runAction(ctx, comp, p.op(), "reshard", call, plinthv1.ReasonReshardFailed, p.target)
	switch {
	case res.ok:
		st.FormedShards = p.target
		conditions.MarkFalse(&st.Conditions, gen, plinthv1.ConditionResharding, plinthv1.ReasonResharded, what+": "+res.message)
		return reshardOutcome{release: true}
	case res.reason != "":
		conditions.MarkTrue(&st.Conditions, gen, plinthv1.ConditionResharding, res.reason, what+": "+res.message)
	}
	out.again = res.again
	return out
}
