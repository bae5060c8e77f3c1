package workloadset

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

// statusWrites counts the controller's writes to WorkloadSet status.
type statusWrites struct {
	mu sync.Mutex
	n  map[string]int
}

func (w *statusWrites) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.Method != http.MethodGet && strings.Contains(req.URL.Path, "/workloadsets/") && strings.HasSuffix(req.URL.Path, "/status") {
			w.mu.Lock()
			w.n[req.URL.Path]++
			w.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

func (w *statusWrites) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	total := 0
	for _, n := range w.n {
		total += n
	}
	return total
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// A pod writing many distinct bad reports (as a compromised pod can) costs
// a bounded number of status writes, and every rejection is still counted
// in status.rejectedReports; the pod's next valid report is accepted.
func TestReportFloodCostsBoundedStatusWrites(t *testing.T) {
	t.Parallel()
	writes := &statusWrites{n: map[string]int{}}
	var r *Reconciler
	h := startWrapped(t, captureReconciler(&r), writes.wrap)
	ws := h.runningPrimary("flood", 1)
	pod := h.waitPod("flood-0")
	time.Sleep(time.Second) // let the writes of the start settle
	before := writes.count()

	const bad = 40
	start := time.Now()
	for i := range bad {
		h.annotate("flood-0", fmt.Sprintf(`{"role": "primary", "healthy": tru %d`, i))
		time.Sleep(150 * time.Millisecond)
	}
	flood := time.Since(start)
	// Every distinct value was judged and counted in memory...
	key := types.NamespacedName{Namespace: h.ns, Name: "flood"}
	var judged int64
	h.eventually("the last bad report judged", func() (bool, string) {
		e, _ := r.reports.get(key, ws.UID)
		judged = e.rejected
		return e.pods[pod.UID].digest == reportDigest(fmt.Sprintf(`{"role": "primary", "healthy": tru %d`, bad-1)), fmt.Sprintf("rejected %d", e.rejected)
	})
	if judged < bad/2 {
		t.Fatalf("only %d of %d bad reports were judged", judged, bad)
	}
	// ... and the count reaches the status within one catch-up interval.
	h.waitStatus("flood", "every rejection counted", func(ws *plinthv1.WorkloadSet) bool {
		e, _ := r.reports.get(key, ws.UID)
		return ws.Status.RejectedReports == e.rejected && e.rejected >= judged
	})
	got := writes.count() - before
	// The burst, one per rejectEvery while the flood lasted, and the
	// catch-up at its end.
	limit := rejectBurst + int(flood/rejectEvery) + 2
	t.Logf("%d bad reports over %s (%d judged): %d status writes (limit %d)", bad, flood.Round(time.Millisecond), judged, got, limit)
	if got > limit {
		t.Fatalf("%d bad reports cost %d status writes, want at most %d", bad, got, limit)
	}

	h.report("flood-0", "primary", true, time.Now(), 2)
	h.waitKept(r, "flood", "flood-0", 2)
}
