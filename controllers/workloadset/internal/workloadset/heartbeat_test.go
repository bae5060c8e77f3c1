package workloadset

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/ctrlmanager"
)

// captureReconciler makes the harness hand out the Reconciler it runs, so a
// test can look at its in-memory report bookkeeping.
func captureReconciler(into **Reconciler) func(*ctrlmanager.Options, *Options) {
	return func(_ *ctrlmanager.Options, cfg *Options) {
		cfg.Intercept = func(rec reconcile.Reconciler) reconcile.Reconciler {
			*into = rec.(*Reconciler)
			return rec
		}
	}
}

// waitKept waits until the controller's memory holds sequence seq for pod.
func (h *harness) waitKept(r *Reconciler, ws, pod string, seq int64) {
	h.t.Helper()
	p := h.waitPod(pod)
	w := h.get(ws)
	h.eventually(fmt.Sprintf("%s sequence %d judged", pod, seq), func() (bool, string) {
		e, ok := r.reports.get(types.NamespacedName{Namespace: h.ns, Name: ws}, w.UID)
		return ok && e.pods[p.UID].sequence == seq, fmt.Sprintf("kept %+v", e.pods[p.UID])
	})
}

// runningPrimary creates a one-pod WorkloadSet with roles whose pod reports
// primary with sequence seq, and waits until it is Running.
func (h *harness) runningPrimary(name string, seq uint64) *plinthv1.WorkloadSet {
	h.t.Helper()
	h.workloadSet(name, 1, func(ws *plinthv1.WorkloadSet) {
		ws.Spec.Roles = []plinthv1.RoleSpec{{Name: "primary", Writable: true}, {Name: "replica"}}
	})
	pod := name + "-0"
	h.markReady(pod)
	h.report(pod, "primary", true, time.Now(), seq)
	return h.waitStatus(name, fmt.Sprintf("Running with a primary at sequence %d", seq), func(ws *plinthv1.WorkloadSet) bool {
		m := member(ws, pod)
		return m != nil && m.Role == "primary" && m.Sequence == int64(seq) && ws.Status.Phase == plinthv1.ComponentRunning
	})
}

// Heartbeats that change nothing a user cares about write no status; the
// controller still judges them (a replay of one is rejected), and a role
// change is written at once.
func TestHeartbeatsDoNotWriteStatus(t *testing.T) {
	t.Parallel()
	var r *Reconciler
	h := start(t, captureReconciler(&r))
	ws := h.runningPrimary("hb", 1)
	rv, reported := ws.ResourceVersion, member(ws, "hb-0").LastReportTime

	for seq := uint64(2); seq <= 6; seq++ {
		h.report("hb-0", "primary", true, time.Now(), seq)
		h.waitKept(r, "hb", "hb-0", int64(seq))
	}
	ws = h.get("hb")
	if ws.ResourceVersion != rv {
		t.Fatalf("heartbeats wrote the status: resourceVersion %s -> %s, status %+v", rv, ws.ResourceVersion, ws.Status)
	}
	if m := member(ws, "hb-0"); m.Sequence != 1 || !m.LastReportTime.Equal(reported) {
		t.Fatalf("member changed without a write: %+v", m)
	}

	// Sequence 4 was never written to the status but was accepted: a
	// replay of it is rejected (and that is written).
	h.report("hb-0", "primary", true, time.Now(), 4)
	ws = h.waitStatus("hb", "the replay counted", func(ws *plinthv1.WorkloadSet) bool { return ws.Status.RejectedReports == 1 })
	if m := member(ws, "hb-0"); m.Role != "primary" || m.Sequence != 6 {
		t.Fatalf("after a replay: %+v, want primary with the kept sequence 6", m)
	}
	rv = ws.ResourceVersion

	// A role change is written at once.
	h.report("hb-0", "replica", true, time.Now(), 7)
	ws = h.waitStatus("hb", "member replica", func(ws *plinthv1.WorkloadSet) bool {
		m := member(ws, "hb-0")
		return m.Role == "replica" && m.Sequence == 7
	})
	if ws.ResourceVersion == rv || ws.Status.RejectedReports != 1 {
		t.Fatalf("role change: resourceVersion %s (was %s), rejectedReports %d", ws.ResourceVersion, rv, ws.Status.RejectedReports)
	}
	h.eventually("role label replica", func() (bool, string) {
		pod, _ := h.pod("hb-0")
		return pod.Labels[plinthv1.LabelRole] == "replica", "label " + pod.Labels[plinthv1.LabelRole]
	})

	// Deleting the WorkloadSet drops its memory.
	if err := h.c.Delete(h.ctx, ws); err != nil {
		t.Fatal(err)
	}
	h.eventually("memory dropped", func() (bool, string) {
		_, ok := r.reports.get(types.NamespacedName{Namespace: h.ns, Name: "hb"}, ws.UID)
		return !ok, "still remembered"
	})
}

// A restarted controller starts from the persisted sequence: the report on
// the pod that carries it is accepted again (not counted as a replay), an
// older one is a replay.
func TestReplayProtectionAcrossRestart(t *testing.T) {
	t.Parallel()
	var r *Reconciler
	h := start(t, captureReconciler(&r))
	h.runningPrimary("rs", 10)
	h.report("rs-0", "primary", true, time.Now(), 11) // kept in memory only
	h.waitKept(r, "rs", "rs-0", 11)
	h.report("rs-0", "primary", true, time.Now(), 10) // a replay, rejected
	h.waitStatus("rs", "the replay counted", func(ws *plinthv1.WorkloadSet) bool { return ws.Status.RejectedReports == 1 })
	if m := member(h.get("rs"), "rs-0"); m.Sequence != 11 {
		t.Fatalf("the write of the rejection did not carry the kept sequence: %+v", m)
	}
	h.report("rs-0", "primary", true, time.Now(), 12) // kept in memory only
	h.waitKept(r, "rs", "rs-0", 12)
	if m := member(h.get("rs"), "rs-0"); m.Sequence != 11 {
		t.Fatalf("a heartbeat was written: %+v", m)
	}

	// Restart: the report on the pod now carries the persisted sequence,
	// below the last one the stopped controller accepted.
	var r2 *Reconciler
	h.stopController()
	h.report("rs-0", "primary", true, time.Now(), 11) // equal to the persisted sequence
	h.startController(captureReconciler(&r2))
	h.waitKept(r2, "rs", "rs-0", 11)
	ws := h.get("rs")
	if ws.Status.RejectedReports != 1 {
		t.Fatalf("the report with the persisted sequence was rejected after a restart: %d", ws.Status.RejectedReports)
	}
	h.report("rs-0", "primary", true, time.Now(), 9) // below the persisted sequence
	h.waitStatus("rs", "the replay after the restart counted", func(ws *plinthv1.WorkloadSet) bool { return ws.Status.RejectedReports == 2 })
	h.report("rs-0", "primary", true, time.Now(), 11) // equal again: now a replay
	h.waitStatus("rs", "the second equal report counted", func(ws *plinthv1.WorkloadSet) bool { return ws.Status.RejectedReports == 3 })
	if m := member(h.get("rs"), "rs-0"); m.Role != "primary" {
		t.Fatalf("after the restart: %+v", m)
	}
}
