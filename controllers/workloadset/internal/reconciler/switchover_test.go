package reconciler

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
	h := start(t, func(_ *ctrlmanager.Options, cfg *Config) { cfg.Switchover = g })
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
