package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/conditions"
	"github.com/plinth-io/plinth/internal/naming"
	"github.com/plinth-io/plinth/internal/testenv"
)

// startComponentController runs the real component-controller (its binary,
// built from controllers/component: Go's internal rule keeps its package out
// of this one) against the test API server, watching only ns, until the test
// ends.
func startComponentController(t *testing.T, ns string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "plinth-component-controller")
	build := exec.Command("go", "build", "-o", bin, "./controllers/component")
	build.Dir = env.Root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the component-controller: %v\n%s", err, out)
	}
	kubeconfig, err := env.Kubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--metrics-bind-address=0", "--health-probe-bind-address=0", "--leader-elect=false",
		"--watch-namespace="+ns, "--platform-namespace="+platformNamespace)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	// Its log goes to the test's log (shown on failure) until it has stopped.
	logDone := &atomic.Bool{}
	cmd.Stdout, cmd.Stderr = testWriter{t, logDone}, testWriter{t, logDone}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logDone.Store(true)
	})
}

// playWorkloadSetController reports every member of the WorkloadSet's
// current generation ready, as the workloadset-controller does once kubelet
// runs the pods.
func playWorkloadSetController(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, "writing the status of WorkloadSet "+name, func() error {
		ws := &plinthv1.WorkloadSet{}
		if err := env.Client.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: name}, ws); err != nil {
			return err
		}
		n := ws.Spec.Replicas
		ws.Status = plinthv1.WorkloadSetStatus{
			ObservedGeneration: ws.Generation, Phase: plinthv1.ComponentRunning,
			Replicas: n, ReadyReplicas: n, UpdatedReplicas: n, Ready: fmt.Sprintf("%d/%d", n, n),
		}
		for o := int32(0); o < n; o++ {
			ws.Status.Members = append(ws.Status.Members, plinthv1.MemberStatus{Name: naming.Pod(name, o), Role: "primary", Ready: true, Healthy: true, Updated: true})
		}
		return env.Client.Status().Update(ctx(t), ws)
	})
}

func workloadSetCPU(t *testing.T, ns, name string) string {
	t.Helper()
	ws := &plinthv1.WorkloadSet{}
	if err := env.Client.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: name}, ws); err != nil {
		t.Fatal(err)
	}
	for _, c := range ws.Spec.Template.Spec.Containers {
		if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
			return q.String()
		}
	}
	return ""
}

// A change the component-controller cannot carry out in full (the API server
// refuses its WorkloadSet writes) is not reported done by the Application:
// it stays Updating, not Ready, naming the Component that has not observed
// the change. Once the refusal goes, the chain converges to Running. Both
// controllers are real; the test plays kubelet and the workloadset-controller.
func TestHalfWayComponentKeepsApplicationUpdating(t *testing.T) {
	ns := newNamespace(t)
	startController(t, ns, controllerOptions{})
	startComponentController(t, ns)
	app := redisApp(ns, "half", func(a *plinthv1.Application) {
		a.Spec.Components = []plinthv1.ApplicationComponent{{Name: "redis"}}
	})
	if err := env.Client.Create(ctx(t), app); err != nil {
		t.Fatal(err)
	}
	compName := "half-redis"
	wsName := naming.WorkloadSet(compName, -1) // standalone: unsharded
	comp := waitForComponent(t, ns, compName, func(c *plinthv1.Component) error {
		if c.Status.ObservedGeneration != c.Generation {
			return fmt.Errorf("observedGeneration %d of %d", c.Status.ObservedGeneration, c.Generation)
		}
		return env.Client.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: wsName}, &plinthv1.WorkloadSet{})
	})
	playWorkloadSetController(t, ns, wsName)
	waitForPhase(t, ns, "half", plinthv1.ApplicationRunning)
	observed := comp.Status.ObservedGeneration
	cpuBefore := workloadSetCPU(t, ns, wsName)

	remove, err := env.Deny(ctx(t), ns, plinthv1.GroupVersion.Group, "workloadsets", []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
		env.UpdateProbe(&plinthv1.WorkloadSet{}, client.ObjectKey{Namespace: ns, Name: wsName}))
	if err != nil {
		t.Fatal(err)
	}
	removed := false
	t.Cleanup(func() {
		if !removed {
			_ = remove(context.Background())
		}
	})

	patchApp(t, ns, "half", func(a *plinthv1.Application) {
		a.Spec.Components[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}
	})
	// The application-controller carries the change to the Component; the
	// component-controller fails half-way on the WorkloadSet.
	comp = waitForComponent(t, ns, compName, func(c *plinthv1.Component) error {
		if q := c.Spec.Resources.Requests[corev1.ResourceCPU]; q.String() != "250m" {
			return fmt.Errorf("cpu request %q", q.String())
		}
		r := conditions.Get(c.Status.Conditions, plinthv1.ConditionReady)
		if r == nil || r.Status != metav1.ConditionFalse || r.Reason != plinthv1.ReasonReconcileFailed || !strings.Contains(r.Message, testenv.DenyMessage) {
			return fmt.Errorf("Ready is %+v", r)
		}
		return nil
	})
	if comp.Status.ObservedGeneration != observed {
		t.Fatalf("the Component's half-way pass moved observedGeneration to %d (generation %d); want %d", comp.Status.ObservedGeneration, comp.Generation, observed)
	}
	// The Application, having seen that Component, says it is still updating.
	eventually(t, "the Application reporting the unobserved Component", func() error {
		a := getApp(t, ns, "half")
		r := conditions.Get(a.Status.Conditions, plinthv1.ConditionReady)
		if a.Status.ObservedGeneration != a.Generation || r == nil || !strings.Contains(r.Message, "not yet observed by the component-controller") {
			return fmt.Errorf("observedGeneration %d of %d, Ready %+v", a.Status.ObservedGeneration, a.Generation, r)
		}
		return nil
	})
	got := getApp(t, ns, "half")
	if got.Status.Phase != plinthv1.ApplicationUpdating || !conditions.IsFalse(got.Status.Conditions, plinthv1.ConditionReady) ||
		conditions.Get(got.Status.Conditions, plinthv1.ConditionReady).Reason != plinthv1.ReasonUpdating {
		t.Fatalf("with the Component's change refused half-way the Application reports phase %s, conditions %+v; want Updating, Ready=False/%s",
			got.Status.Phase, got.Status.Conditions, plinthv1.ReasonUpdating)
	}
	if cpu := workloadSetCPU(t, ns, wsName); cpu != cpuBefore {
		t.Fatalf("the refused WorkloadSet asks for cpu %s; want %s", cpu, cpuBefore)
	}

	// Once the refusal goes the chain converges on its own.
	if err := remove(ctx(t)); err != nil {
		t.Fatal(err)
	}
	removed = true
	waitForComponent(t, ns, compName, func(c *plinthv1.Component) error {
		if c.Status.ObservedGeneration != c.Generation {
			return fmt.Errorf("observedGeneration %d of %d", c.Status.ObservedGeneration, c.Generation)
		}
		return nil
	})
	if cpu := workloadSetCPU(t, ns, wsName); cpu != "250m" {
		t.Fatalf("after the refusal went the WorkloadSet asks for cpu %s; want 250m", cpu)
	}
	playWorkloadSetController(t, ns, wsName)
	got = waitForPhase(t, ns, "half", plinthv1.ApplicationRunning)
	if !conditions.IsTrue(got.Status.Conditions, plinthv1.ConditionReady) {
		t.Fatalf("converged Application conditions %+v", got.Status.Conditions)
	}
}
