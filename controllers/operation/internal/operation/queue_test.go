package operation

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

func queued(name, target string, created int, phase plinthv1.OperationPhase) plinthv1.Operation {
	op := plinthv1.Operation{}
	op.Name, op.UID = name, types.UID(name)
	op.CreationTimestamp = metav1.NewTime(time.Unix(int64(created), 0))
	op.Spec.TargetRef = plinthv1.TargetReference{Kind: "Application", Name: target}
	op.Status.Phase = phase
	return op
}

func TestQueuePosition(t *testing.T) {
	all := []plinthv1.Operation{
		queued("a-first", "app", 10, plinthv1.OperationPending),
		queued("b-second", "app", 20, plinthv1.OperationPending),
		queued("c-same-second", "app", 20, plinthv1.OperationPending),
		queued("d-done", "app", 5, plinthv1.OperationSucceeded),
		queued("e-other-target", "other", 1, plinthv1.OperationRunning),
		queued("z-running-late", "app2", 30, plinthv1.OperationRunning),
		queued("y-pending-early", "app2", 1, plinthv1.OperationPending),
	}
	cases := []struct {
		op        int
		want      int
		wantFirst string
	}{
		{0, 0, ""},               // the oldest unfinished one runs; finished ones do not count
		{1, 1, "a-first"},        // behind the oldest
		{2, 2, "a-first"},        // same second: the name breaks the tie
		{4, 0, ""},               // another target does not wait
		{6, 1, "z-running-late"}, // a running Operation stays first even if a queued one is older
		{5, 0, ""},
	}
	for _, tc := range cases {
		got, first := queuePosition(&all[tc.op], all)
		if got != tc.want || first != tc.wantFirst {
			t.Errorf("%s: position %d behind %q, want %d behind %q", all[tc.op].Name, got, first, tc.want, tc.wantFirst)
		}
	}
}
