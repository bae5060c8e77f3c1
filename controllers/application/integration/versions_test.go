package integration

import (
	"fmt"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/naming"
)

// status.version says what runs: empty until the Application first runs,
// then the old version for as long as a version change rolls out, and the
// new one once every member runs it. Both controllers are real; the test
// plays kubelet and the workloadset-controller.
func TestStatusVersionFollowsTheRollout(t *testing.T) {
	ns := newNamespace(t)
	startController(t, ns, controllerOptions{})
	startComponentController(t, ns)
	if err := env.Client.Create(ctx(t), redisApp(ns, "ver")); err != nil {
		t.Fatal(err)
	}
	compName := "ver-redis"
	wsName := naming.WorkloadSet(compName, -1) // standalone: unsharded
	waitForComponent(t, ns, compName, func(c *plinthv1.Component) error {
		if c.Status.ObservedGeneration != c.Generation {
			return fmt.Errorf("observedGeneration %d of %d", c.Status.ObservedGeneration, c.Generation)
		}
		return env.Client.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: wsName}, &plinthv1.WorkloadSet{})
	})
	got := waitForPhase(t, ns, "ver", plinthv1.ApplicationCreating)
	if got.Status.Version != "" || got.Status.PluginVersion != "" {
		t.Fatalf("while creating, status reports running versions %q/%q; want none", got.Status.PluginVersion, got.Status.Version)
	}

	playWorkloadSetController(t, ns, wsName)
	waitForVersions(t, ns, "ver", "v1.0.0", "7.2")
	if c := waitForComponent(t, ns, compName, nil); c.Status.Version != "7.2" || c.Status.PluginVersion != "v1.0.0" {
		t.Fatalf("running Component reports versions %q/%q; want v1.0.0/7.2", c.Status.PluginVersion, c.Status.Version)
	}

	patchApp(t, ns, "ver", func(a *plinthv1.Application) { a.Spec.Version = "7.4" })
	// Both controllers have acted on the change; the pods have not moved.
	waitForComponent(t, ns, compName, func(c *plinthv1.Component) error {
		if c.Spec.Version != "7.4" || c.Status.ObservedGeneration != c.Generation {
			return fmt.Errorf("spec.version %s, observedGeneration %d of %d", c.Spec.Version, c.Status.ObservedGeneration, c.Generation)
		}
		return nil
	})
	got = waitForPhase(t, ns, "ver", plinthv1.ApplicationUpdating)
	if got.Status.Version != "7.2" {
		t.Fatalf("with the rollout not started, status.version is %q; want the running 7.2", got.Status.Version)
	}

	// Half-way: the WorkloadSet has observed the new template, its member
	// is ready but still runs the old one.
	eventually(t, "writing a half-way status of WorkloadSet "+wsName, func() error {
		ws := &plinthv1.WorkloadSet{}
		if err := env.Client.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: wsName}, ws); err != nil {
			return err
		}
		ws.Status = plinthv1.WorkloadSetStatus{
			ObservedGeneration: ws.Generation, Phase: plinthv1.ComponentUpdating,
			Replicas: 1, ReadyReplicas: 1, UpdatedReplicas: 0, Ready: "1/1",
			Members: []plinthv1.MemberStatus{{Name: naming.Pod(wsName, 0), Role: "primary", Ready: true, Healthy: true}},
		}
		return env.Client.Status().Update(ctx(t), ws)
	})
	waitForComponent(t, ns, compName, func(c *plinthv1.Component) error {
		if c.Status.Phase != plinthv1.ComponentUpdating || c.Status.ReadyReplicas != 1 {
			return fmt.Errorf("phase %s, %d ready", c.Status.Phase, c.Status.ReadyReplicas)
		}
		if c.Status.Version != "7.2" {
			return fmt.Errorf("half-way Component reports version %q; want the running 7.2", c.Status.Version)
		}
		return nil
	})
	got = waitForPhase(t, ns, "ver", plinthv1.ApplicationUpdating)
	if got.Status.Version != "7.2" || got.Status.PluginVersion != "v1.0.0" {
		t.Fatalf("half-way through the rollout, status reports %q/%q; want the running v1.0.0/7.2", got.Status.PluginVersion, got.Status.Version)
	}

	// The member runs the new template: the rollout is done.
	playWorkloadSetController(t, ns, wsName)
	waitForVersions(t, ns, "ver", "v1.0.0", "7.4")
	if c := waitForComponent(t, ns, compName, nil); c.Status.Version != "7.4" {
		t.Fatalf("rolled-out Component reports version %q; want 7.4", c.Status.Version)
	}
}

// waitForVersions waits until the Application is Running and reports
// pluginVersion and version running.
func waitForVersions(t *testing.T, ns, name, pluginVersion, version string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s running %s/%s", name, pluginVersion, version), func() error {
		a := getApp(t, ns, name)
		if a.Status.Phase != plinthv1.ApplicationRunning || a.Status.ObservedGeneration != a.Generation ||
			a.Status.PluginVersion != pluginVersion || a.Status.Version != version {
			return fmt.Errorf("phase %s, observedGeneration %d of %d, versions %q/%q", a.Status.Phase, a.Status.ObservedGeneration, a.Generation, a.Status.PluginVersion, a.Status.Version)
		}
		return nil
	})
}
