package deadline

import (
	"context"
	"errors"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func TestReconcilerIsBoundedByItsDeadline(t *testing.T) {
	hang := reconcile.Func(func(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
		<-ctx.Done() // a dependency that never answers, but honours the context
		return reconcile.Result{}, ctx.Err()
	})
	_, err := Reconciler[reconcile.Request](hang, 50*time.Millisecond).Reconcile(context.Background(), reconcile.Request{})
	var te *TimeoutError
	if !errors.As(err, &te) || te.After != 50*time.Millisecond || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a TimeoutError wrapping DeadlineExceeded", err)
	}

	ok := reconcile.Func(func(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
		if _, has := ctx.Deadline(); !has {
			return reconcile.Result{}, errors.New("no deadline set")
		}
		return reconcile.Result{RequeueAfter: time.Second}, nil
	})
	res, err := Reconciler[reconcile.Request](ok, time.Minute).Reconcile(context.Background(), reconcile.Request{})
	if err != nil || res.RequeueAfter != time.Second {
		t.Fatalf("got %v, %v", res, err)
	}
}
