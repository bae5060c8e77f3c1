package deadline

import (
	"context"
	"errors"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Reconciler wraps next so that each call runs under a deadline of d.
func Reconciler[T comparable](next reconcile.TypedReconciler[T], d time.Duration) reconcile.TypedReconciler[T] {
	return reconcile.TypedFunc[T](func(ctx context.Context, req T) (reconcile.Result, error) {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		res, err := next.Reconcile(ctx, req)
		if err != nil && errors.Is(err, context.DeadlineExceeded) {
			return res, &TimeoutError{After: d, Err: err}
		}
		return res, err
	})
}

// TimeoutError is returned when a reconcile ran past its deadline. It is
// retried with the object's backoff like any other error.
type TimeoutError struct {
	After time.Duration
	Err   error
}

func (e *TimeoutError) Error() string {
	return "reconcile exceeded its deadline of " + e.After.String() + ": " + e.Err.Error()
}

func (e *TimeoutError) Unwrap() error { return e.Err }
