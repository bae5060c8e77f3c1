package skeleton

import (
	"errors"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/conditions"
)

// Observe records how a pass went in the status being written: after a
// complete pass observedGeneration becomes generation; a pass ended by an
// error a retry may fix keeps it and says so in Ready (reason
// ReconcileFailed, the message naming the phase and the error), so the layer
// above does not take the change as done. A verdict's condition (an invalid
// spec) is the phase's to set.
func Observe(o Outcome, generation int64, observedGeneration *int64, conds *[]metav1.Condition) {
	if o.Complete {
		*observedGeneration = generation
		return
	}
	if o.Err != nil && !errors.Is(o.Err, reconcile.TerminalError(nil)) {
		conditions.MarkFalse(conds, generation, plinthv1.ConditionReady, plinthv1.ReasonReconcileFailed, o.Err.Error())
	}
}
