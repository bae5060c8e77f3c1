package component_test

import (
	"fmt"
	"strings"
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

// A pass that fails half-way (the API server refuses the WorkloadSet after
// the ConfigMaps and Services were applied) leaves observedGeneration at the
// generation last acted on in full and says in Ready what failed, so the
// application layer does not take the change as done. Once the refusal
// goes, the Component converges on its own.
func TestHalfWayPassKeepsObservedGeneration(t *testing.T) {
	ns := namespace(t)
	comp := newComponent(t, ns, "halfway", "standalone", "redis", nil)
	wsName := naming.WorkloadSet(comp.Name, -1) // standalone: unsharded
	c := &plinthv1.Component{}
	eventually(t, "the first generation observed", func() error {
		if err := get(t, ns, comp.Name, c); err != nil {
			return err
		}
		if c.Status.ObservedGeneration != c.Generation {
			return fmt.Errorf("observedGeneration %d of %d", c.Status.ObservedGeneration, c.Generation)
		}
		return get(t, ns, wsName, &plinthv1.WorkloadSet{})
	})
	observed := c.Status.ObservedGeneration

	remove, err := env.Deny(ctxT(t), ns, plinthv1.GroupVersion.Group, "workloadsets", []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
		env.UpdateProbe(&plinthv1.WorkloadSet{}, client.ObjectKey{Namespace: ns, Name: wsName}))
	if err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(c.DeepCopy())
	c.Spec.Resources.Requests[corev1.ResourceCPU] = resource.MustParse("200m")
	if err := env.Client.Patch(ctxT(t), c, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Ready=False ReconcileFailed naming the refusal", func() error {
		if err := get(t, ns, comp.Name, c); err != nil {
			return err
		}
		r := conditions.Get(c.Status.Conditions, plinthv1.ConditionReady)
		if r == nil || r.Status != metav1.ConditionFalse || r.Reason != plinthv1.ReasonReconcileFailed || !strings.Contains(r.Message, testenv.DenyMessage) {
			return fmt.Errorf("Ready is %+v", r)
		}
		return nil
	})
	if c.Status.ObservedGeneration != observed {
		t.Fatalf("a pass that failed half-way moved observedGeneration to %d (generation %d); want %d", c.Status.ObservedGeneration, c.Generation, observed)
	}
	if !strings.Contains(conditions.Get(c.Status.Conditions, plinthv1.ConditionReady).Message, "workloadsets") {
		t.Errorf("Ready does not name the phase that failed: %s", conditions.Get(c.Status.Conditions, plinthv1.ConditionReady).Message)
	}
	ws := &plinthv1.WorkloadSet{}
	if err := get(t, ns, wsName, ws); err != nil {
		t.Fatal(err)
	}
	if got := cpuOf(ws); got != "100m" {
		t.Fatalf("the refused WorkloadSet asks for cpu %s", got)
	}

	if err := remove(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the change carried out once the refusal is gone", func() error {
		if err := get(t, ns, comp.Name, c); err != nil {
			return err
		}
		if err := get(t, ns, wsName, ws); err != nil {
			return err
		}
		if c.Status.ObservedGeneration != c.Generation || cpuOf(ws) != "200m" {
			return fmt.Errorf("observedGeneration %d of %d, WorkloadSet cpu %s", c.Status.ObservedGeneration, c.Generation, cpuOf(ws))
		}
		if r := conditions.Get(c.Status.Conditions, plinthv1.ConditionReady); r != nil && r.Reason == plinthv1.ReasonReconcileFailed {
			return fmt.Errorf("Ready still says %s", r.Message)
		}
		return nil
	})
}

// cpuOf is the cpu request of the WorkloadSet's first container.
func cpuOf(ws *plinthv1.WorkloadSet) string {
	for _, ct := range ws.Spec.Template.Spec.Containers {
		if q, ok := ct.Resources.Requests[corev1.ResourceCPU]; ok {
			return q.String()
		}
	}
	return ""
}
