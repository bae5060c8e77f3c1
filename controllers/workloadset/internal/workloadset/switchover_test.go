package workloadset

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/ctrlmanager"
)

// gate is a Switchover that lets the writable pod go only once allowed.
type gate struct {
	allow atomic.Bool
	mu    sync.Mutex
	asked map[string]int
}

func (g *gate) Prepare(_ context.Context, _ *plinthv1.WorkloadSet, pod *corev1.Pod, _ []plinthv1.MemberStatus) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.asked[pod.Name]++
	return g.allow.Load(), nil
}

func (g *gate) askedAbout() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]int{}
	for k, v := range g.asked {
		out[k] = v
	}
	return out
}

func TestSwitchoverHookGuardsTheWritablePod(t *testing.T) {
	t.Parallel()
	g := &gate{asked: map[string]int{}}
	h := start(t, func(_ *ctrlmanager.Options, cfg *Options) { cfg.Switchover = g })
	roleOf := map[string]string{"sw-0": "primary", "sw-1": "replica"}
	h.workloadSet("sw", 2, func(ws *plinthv1.WorkloadSet) {
		ws.Spec.PodManagementPolicy = plinthv1.ParallelPodManagement
		ws.Spec.Roles = []plinthv1.RoleSpec{{Name: "primary", UpdatePriority: 10, Writable: true}, {Name: "replica"}}
	})
	up := func(name string) {
		h.markReady(name)
		h.report(name, roleOf[name], true, time.Now(), 1)
	}
	up("sw-0")
	up("sw-1")
	h.waitStatus("sw", "Running", func(ws *plinthv1.WorkloadSet) bool { return ws.Status.Phase == plinthv1.ComponentRunning })
	primary, _ := h.pod("sw-0")

	h.update("sw", func(ws *plinthv1.WorkloadSet) {
		ws.Spec.Template.Spec.Containers[0].Image = "docker.io/library/redis:7.4"
	})
	newRev := revision(&h.get("sw").Spec.Template)
	h.eventually("sw-1 replaced", func() (bool, string) {
		p, ok := h.pod("sw-1")
		return ok && p.Labels[plinthv1.LabelRevision] == newRev, "not yet"
	})
	up("sw-1")
	h.waitStatus("sw", "waiting for the switchover", func(ws *plinthv1.WorkloadSet) bool {
		c := condition(ws, plinthv1.ConditionProgressing)
		return c != nil && strings.Contains(c.Message, "waiting for a switchover away from sw-0")
	})
	if p, _ := h.pod("sw-0"); p.UID != primary.UID {
		t.Fatal("the writable pod was replaced before the switchover hook allowed it")
	}
	g.allow.Store(true)
	h.eventually("sw-0 replaced", func() (bool, string) {
		p, ok := h.pod("sw-0")
		return ok && p.UID != primary.UID && p.Labels[plinthv1.LabelRevision] == newRev, "not yet"
	})
	asked := g.askedAbout()
	if len(asked) != 1 || asked["sw-0"] == 0 {
		t.Fatalf("the hook was asked about %v; want only the writable pod sw-0", asked)
	}
}

// A designated primary that already reports a replica role (a switchover in
// flight: the old primary demoted itself before the new one reports the
// writable role) is not replaced until the designation has moved, so it
// never restarts reading its own name as the primary.
func TestHandedOverPrimaryWaitsForTheNewDesignation(t *testing.T) {
	t.Parallel()
	g := &gate{asked: map[string]int{}}
	h := start(t, func(_ *ctrlmanager.Options, cfg *Options) { cfg.Switchover = g })
	h.workloadSet("ho", 2, func(ws *plinthv1.WorkloadSet) {
		ws.Spec.PodManagementPolicy = plinthv1.ParallelPodManagement
		ws.Spec.Roles = []plinthv1.RoleSpec{{Name: "primary", UpdatePriority: 10, Writable: true}, {Name: "replica"}}
	})
	h.markReady("ho-0")
	h.report("ho-0", "primary", true, time.Now(), 1)
	h.markReady("ho-1")
	h.report("ho-1", "replica", true, time.Now(), 1)
	h.waitStatus("ho", "Running", func(ws *plinthv1.WorkloadSet) bool { return ws.Status.Phase == plinthv1.ComponentRunning })
	old, _ := h.pod("ho-0")

	h.update("ho", func(ws *plinthv1.WorkloadSet) {
		ws.Spec.Template.Spec.Containers[0].Image = "docker.io/library/redis:7.4"
	})
	newRev := revision(&h.get("ho").Spec.Template)
	h.eventually("ho-1 replaced", func() (bool, string) {
		p, ok := h.pod("ho-1")
		return ok && p.Labels[plinthv1.LabelRevision] == newRev, "not yet"
	})
	h.markReady("ho-1")
	h.report("ho-1", "replica", true, time.Now(), 1)
	// The old primary demotes itself; nobody reports the writable role yet.
	h.report("ho-0", "replica", true, time.Now(), 2)
	h.waitStatus("ho", "waiting for the switchover", func(ws *plinthv1.WorkloadSet) bool {
		c := condition(ws, plinthv1.ConditionProgressing)
		return ws.Status.Primary == "ho-0" && c != nil && strings.Contains(c.Message, "waiting for a switchover away from ho-0")
	})
	time.Sleep(time.Second)
	if p, _ := h.pod("ho-0"); p.UID != old.UID {
		t.Fatal("the designated primary was replaced while no other member reported the writable role")
	}
	// The new primary reports: the designation moves, then ho-0 goes.
	h.report("ho-1", "primary", true, time.Now(), 2)
	h.eventually("ho-0 replaced", func() (bool, string) {
		p, ok := h.pod("ho-0")
		return ok && p.UID != old.UID && p.Labels[plinthv1.LabelRevision] == newRev, "not yet"
	})
	p, _ := h.pod("ho-0")
	if got := p.Annotations[plinthv1.AnnotationPrimary]; got != "ho-1" {
		t.Fatalf("the replaced old primary was created with annotation %s=%q; want ho-1", plinthv1.AnnotationPrimary, got)
	}
}
