package integration

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

// hangTransport never answers requests whose path contains match: it holds
// them until the caller gives up (a dependency that never answers).
type hangTransport struct {
	next  http.RoundTripper
	match string
	held  *atomic.Int32
}

func (h hangTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.Contains(req.URL.Path, h.match) {
		h.held.Add(1)
		<-req.Context().Done()
		return nil, req.Context().Err()
	}
	return h.next.RoundTrip(req)
}

// With a single worker, an Application whose every API call hangs does not
// stop the others: each of its reconciles ends at the deadline, is retried
// with backoff, and the worker serves the other Applications in between.
func TestHangingReconcileEndsAtTheDeadline(t *testing.T) {
	ns := newNamespace(t)
	held := &atomic.Int32{}
	startController(t, ns, controllerOptions{
		workers: 1,
		timeout: time.Second,
		wrapTransport: func(rt http.RoundTripper) http.RoundTripper {
			return hangTransport{next: rt, match: "/hang", held: held}
		},
	})
	if err := env.Client.Create(ctx(t), redisApp(ns, "hang")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first hanging request", func() error {
		if held.Load() == 0 {
			return fmt.Errorf("no request held yet")
		}
		return nil
	})

	const others = 5
	for i := range others {
		if err := env.Client.Create(ctx(t), redisApp(ns, fmt.Sprintf("app-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range others {
		name := fmt.Sprintf("app-%d", i)
		waitForComponent(t, ns, name+"-redis", nil)
		waitForPhase(t, ns, name, plinthv1.ApplicationCreating)
	}
	// The hanging Application is not given up on: it is tried again after
	// its backoff, and never gets anything created.
	eventually(t, "a retry of the hanging Application", func() error {
		if n := held.Load(); n < 2 {
			return fmt.Errorf("attempted %d times", n)
		}
		return nil
	})
	if comps := componentsOf(t, ns, "hang"); len(comps) != 0 {
		t.Errorf("the hanging Application got %d Components", len(comps))
	}
}

// With the default 8 workers, one Application whose reconcile hangs for the
// whole test (its deadline is longer than the test) holds one worker; 50
// other Applications still get their Components. The time they take is
// logged next to the same 50 without a hung one (informational: performance
// is measured by benchmarks, not asserted).
func TestFiftyApplicationsBesideAHungOne(t *testing.T) {
	const others = 50
	run := func(t *testing.T, hang bool) time.Duration {
		ns := newNamespace(t)
		held := &atomic.Int32{}
		startController(t, ns, controllerOptions{
			workers: 8,
			timeout: 10 * time.Minute,
			wrapTransport: func(rt http.RoundTripper) http.RoundTripper {
				return hangTransport{next: rt, match: "/hang", held: held}
			},
		})
		if hang {
			if err := env.Client.Create(ctx(t), redisApp(ns, "hang")); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the hung reconcile", func() error {
				if held.Load() == 0 {
					return fmt.Errorf("no request held yet")
				}
				return nil
			})
		}
		start := time.Now()
		for i := range others {
			if err := env.Client.Create(ctx(t), redisApp(ns, fmt.Sprintf("app-%d", i))); err != nil {
				t.Fatal(err)
			}
		}
		for i := range others {
			waitForComponent(t, ns, fmt.Sprintf("app-%d-redis", i), nil)
		}
		took := time.Since(start)
		if hang {
			if n := held.Load(); n != 1 {
				t.Errorf("the hung reconcile should still be the first and only one held, got %d", n)
			}
			if comps := componentsOf(t, ns, "hang"); len(comps) != 0 {
				t.Errorf("the hung Application got %d Components", len(comps))
			}
		}
		return took
	}
	var with, without time.Duration
	t.Run("beside a hung one", func(t *testing.T) { with = run(t, true) })
	t.Run("alone", func(t *testing.T) { without = run(t, false) })
	t.Logf("%d Applications reached their Components in %s beside a hung reconcile, %s without one (informational)", others, with.Round(time.Millisecond), without.Round(time.Millisecond))
}
