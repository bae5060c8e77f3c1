package operation

import (
	"strings"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

// finished: the Operation reached a terminal phase.
func finished(op *plinthv1.Operation) bool {
	switch op.Status.Phase {
	case plinthv1.OperationSucceeded, plinthv1.OperationFailed, plinthv1.OperationCancelled:
		return true
	}
	return false
}

// before says whether a runs before b on their target: a running
// Operation before any waiting one, then creation time, then name.
func before(a, b *plinthv1.Operation) bool {
	ar, br := a.Status.Phase == plinthv1.OperationRunning, b.Status.Phase == plinthv1.OperationRunning
	if ar != br {
		return ar
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return strings.Compare(a.Name, b.Name) < 0
}

// queuePosition is the number of unfinished Operations on op's target that
// run before it (others may include op itself), and the first of them.
func queuePosition(op *plinthv1.Operation, others []plinthv1.Operation) (int, string) {
	n, first := 0, ""
	var firstOp *plinthv1.Operation
	for i := range others {
		o := &others[i]
		if o.UID == op.UID || o.Spec.TargetRef.Name != op.Spec.TargetRef.Name || o.Spec.TargetRef.Kind != op.Spec.TargetRef.Kind || finished(o) || o.DeletionTimestamp != nil {
			continue
		}
		if before(o, op) {
			n++
			if firstOp == nil || before(o, firstOp) {
				firstOp, first = o, o.Name
			}
		}
	}
	return n, first
}
