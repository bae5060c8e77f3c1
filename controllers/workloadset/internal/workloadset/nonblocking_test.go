package workloadset

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/plinth-io/plinth/internal/ctrlmanager"
)

// others is how many healthy WorkloadSets share the controller with a bad one.
const others = 50

// hang makes the reconcile of the WorkloadSet named name block until its
// context ends, like a call to a dependency that never answers.
type hang struct {
	name                      string
	entered, inside, timedOut atomic.Int32
}

func (hg *hang) intercept(next reconcile.Reconciler) reconcile.Reconciler {
	return reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		if req.Name != hg.name {
			return next.Reconcile(ctx, req)
		}
		hg.entered.Add(1)
		hg.inside.Add(1)
		defer hg.inside.Add(-1)
		<-ctx.Done()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			hg.timedOut.Add(1)
		}
		return reconcile.Result{}, ctx.Err()
	})
}

// createAndWaitForOthers creates n one-pod WorkloadSets, waits for all
// their pods and returns how long that took (informational only).
func (h *harness) createAndWaitForOthers(n int) time.Duration {
	h.t.Helper()
	began := time.Now()
	for i := range n {
		h.workloadSet(fmt.Sprintf("ok-%d", i), 1, nil)
	}
	h.eventually("all others to have their pod", func() (bool, string) {
		for i := range n {
			if _, ok := h.pod(fmt.Sprintf("ok-%d-0", i)); !ok {
				return false, fmt.Sprintf("ok-%d has no pod yet", i)
			}
		}
		return true, ""
	})
	return time.Since(began)
}

// TestHungReconcileDoesNotBlockOthers: with 8 workers, one WorkloadSet's
// reconcile hangs (its deadline is longer than the test) and holds its
// worker throughout; 50 others still get their pods while it is hung.
func TestHungReconcileDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	hg := &hang{name: "hung"}
	h := start(t, func(o *ctrlmanager.Options, cfg *Options) {
		o.Workers = 8
		o.ReconcileTimeout = 2 * waitTimeout
		cfg.Intercept = hg.intercept
	})
	h.workloadSet("hung", 1, nil)
	h.eventually("the hung reconcile to start", func() (bool, string) { return hg.inside.Load() == 1, "not entered" })
	withHung := h.createAndWaitForOthers(others)
	if hg.inside.Load() != 1 || hg.entered.Load() != 1 {
		t.Fatalf("the hung reconcile is no longer hung (entered %d, inside %d)", hg.entered.Load(), hg.inside.Load())
	}
	if n := len(h.pods("hung")); n != 0 {
		t.Fatalf("the hung WorkloadSet got %d pods", n)
	}
	// The same work without a hung object, for comparison (not asserted:
	// the machine is shared).
	base := start(t, func(o *ctrlmanager.Options, _ *Options) { o.Workers = 8; o.ReconcileTimeout = 2 * waitTimeout })
	without := base.createAndWaitForOthers(others)
	t.Logf("%d WorkloadSets got their pods in %s beside a hung one, %s without (ratio %.2f; informational)",
		others, withHung.Round(time.Millisecond), without.Round(time.Millisecond), withHung.Seconds()/without.Seconds())
}

// TestDeadlineFreesTheWorker: with a single worker, only the per-reconcile
// deadline lets the other WorkloadSets through; the hung one is retried
// (and hangs again).
func TestDeadlineFreesTheWorker(t *testing.T) {
	t.Parallel()
	hg := &hang{name: "hung"}
	h := start(t, func(o *ctrlmanager.Options, cfg *Options) {
		o.Workers = 1
		o.ReconcileTimeout = time.Second
		cfg.Intercept = hg.intercept
	})
	h.workloadSet("hung", 1, nil)
	h.eventually("the hung reconcile to start", func() (bool, string) { return hg.inside.Load() == 1, "not entered" })
	h.createAndWaitForOthers(5)
	h.eventually("the hung reconcile to time out and be retried", func() (bool, string) {
		return hg.timedOut.Load() >= 1 && hg.entered.Load() >= 2, fmt.Sprintf("entered %d, timed out %d", hg.entered.Load(), hg.timedOut.Load())
	})
	if n := len(h.pods("hung")); n != 0 {
		t.Fatalf("the hung WorkloadSet got %d pods", n)
	}
}

// TestPoisonObjectIsRetriedWithBackoff: a WorkloadSet whose reconcile always
// fails is retried with growing delays and does not block the others.
func TestPoisonObjectIsRetriedWithBackoff(t *testing.T) {
	t.Parallel()
	const base = 20 * time.Millisecond
	var mu sync.Mutex
	var attempts []time.Time
	h := start(t, func(o *ctrlmanager.Options, cfg *Options) {
		o.BackoffBase, o.BackoffMax = base, 10*time.Second
		cfg.Intercept = func(next reconcile.Reconciler) reconcile.Reconciler {
			return reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
				if req.Name != "poison" {
					return next.Reconcile(ctx, req)
				}
				mu.Lock()
				attempts = append(attempts, time.Now())
				mu.Unlock()
				return reconcile.Result{}, errors.New("poison: always fails")
			})
		}
	})
	h.workloadSet("poison", 1, nil)
	h.createAndWaitForOthers(others)
	const wantAttempts = 6
	h.eventually("the poison object to be retried", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(attempts) >= wantAttempts, fmt.Sprintf("%d attempts", len(attempts))
	})
	if n := len(h.pods("poison")); n != 0 {
		t.Fatalf("poison got %d pods", n)
	}
	mu.Lock()
	defer mu.Unlock()
	// Per-object exponential backoff: the k-th retry comes at least
	// base*2^(k-1) after the attempt before it (a lower bound only: a busy
	// machine can make gaps longer, never shorter).
	for k := 1; k < wantAttempts; k++ {
		gap := attempts[k].Sub(attempts[k-1])
		if min := base << (k - 1); gap < min {
			t.Fatalf("retry %d came %s after the previous attempt; backoff wants at least %s", k, gap, min)
		}
	}
}
