package component

import (
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

// workloadSetChanged lets through the WorkloadSet updates a Component
// reconcile can act on: its spec and metadata (which the Component applies)
// and the status fields summarize reads. The workloadset-controller also
// writes members' report bookkeeping (lastReportTime, sequence) about every
// three heartbeats; with a thousand WorkloadSets a reconcile of the owning
// Component for each of those writes would keep every Component queued
// behind work that changes nothing.
func workloadSetChanged() predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*plinthv1.WorkloadSet)
		n, ok2 := e.ObjectNew.(*plinthv1.WorkloadSet)
		if !ok1 || !ok2 {
			return true
		}
		return o.Generation != n.Generation ||
			!o.DeletionTimestamp.Equal(n.DeletionTimestamp) ||
			!equality.Semantic.DeepEqual(o.Labels, n.Labels) ||
			!equality.Semantic.DeepEqual(o.Annotations, n.Annotations) ||
			!equality.Semantic.DeepEqual(o.OwnerReferences, n.OwnerReferences) ||
			!equality.Semantic.DeepEqual(o.Finalizers, n.Finalizers) ||
			summaryOf(&o.Status) != summaryOf(&n.Status)
	}}
}

// wsSummary is what summarize and componentPhase read from a WorkloadSet's
// status.
type wsSummary struct {
	observedGeneration                       int64
	phase                                    plinthv1.ComponentPhase
	replicas, readyReplicas, updatedReplicas int32
}

func summaryOf(st *plinthv1.WorkloadSetStatus) wsSummary {
	return wsSummary{st.ObservedGeneration, st.Phase, st.Replicas, st.ReadyReplicas, st.UpdatedReplicas}
}
