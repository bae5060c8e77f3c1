package skeleton

import (
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// IgnoreStatusOnly is the For predicate of every Plinth controller: it lets
// through creates, deletes and every update except those that changed only
// the status (and with it resourceVersion and managedFields). A controller's
// own status write then does not reconcile the object again, while a spec
// change (generation), a deletion, and a finalizer, label, annotation or
// owner change do. GenerationChangedPredicate alone would drop the metadata
// changes, which bump no generation; no predicate at all would reconcile
// every object once more after each status write.
func IgnoreStatusOnly() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld, e.ObjectNew
		if o == nil || n == nil {
			return true
		}
		return o.GetGeneration() != n.GetGeneration() ||
			!o.GetDeletionTimestamp().Equal(n.GetDeletionTimestamp()) ||
			!slices.Equal(o.GetFinalizers(), n.GetFinalizers()) ||
			!maps.Equal(o.GetLabels(), n.GetLabels()) ||
			!maps.Equal(o.GetAnnotations(), n.GetAnnotations()) ||
			!equality.Semantic.DeepEqual(o.GetOwnerReferences(), n.GetOwnerReferences())
	}}
}
