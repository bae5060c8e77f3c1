package workloadset

import (
	"context"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/conditions"
	"github.com/plinth-io/plinth/internal/testenv"
)

// A pass that fails half-way (the API server refuses the new pod) leaves
// observedGeneration at the generation last acted on in full and says in
// Ready what failed, so the component layer does not take the scale-out as
// done. Once the refusal goes, the WorkloadSet converges on its own.
func TestHalfWayPassKeepsObservedGeneration(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	h.workloadSet("halfway", 1, func(ws *plinthv1.WorkloadSet) { ws.Spec.PodManagementPolicy = plinthv1.ParallelPodManagement })
	first := h.waitStatus("halfway", "the first generation observed with its pod", func(ws *plinthv1.WorkloadSet) bool {
		return ws.Status.ObservedGeneration == ws.Generation && len(h.pods("halfway")) == 1
	})

	remove, err := env.Deny(h.ctx, h.ns, "", "pods", []admissionv1.OperationType{admissionv1.Create}, func(ctx context.Context) error {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: h.ns},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "probe"}}},
		}
		return h.c.Create(ctx, pod, client.DryRunAll)
	})
	if err != nil {
		t.Fatal(err)
	}
	h.update("halfway", func(ws *plinthv1.WorkloadSet) { ws.Spec.Replicas = 2 })
	ws := h.waitStatus("halfway", "Ready=False ReconcileFailed naming the refusal", func(ws *plinthv1.WorkloadSet) bool {
		r := conditions.Get(ws.Status.Conditions, plinthv1.ConditionReady)
		return r != nil && r.Status == metav1.ConditionFalse && r.Reason == plinthv1.ReasonReconcileFailed && strings.Contains(r.Message, testenv.DenyMessage)
	})
	if ws.Status.ObservedGeneration != first.Generation {
		t.Fatalf("a pass that failed half-way moved observedGeneration to %d (generation %d); want %d", ws.Status.ObservedGeneration, ws.Generation, first.Generation)
	}
	if msg := conditions.Get(ws.Status.Conditions, plinthv1.ConditionReady).Message; !strings.Contains(msg, "create-pods") {
		t.Errorf("Ready does not name the phase that failed: %s", msg)
	}
	if n := len(h.pods("halfway")); n != 1 {
		t.Fatalf("%d pods while creating pods is refused", n)
	}

	if err := remove(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.waitStatus("halfway", "the scale-out carried out once the refusal is gone", func(ws *plinthv1.WorkloadSet) bool {
		r := conditions.Get(ws.Status.Conditions, plinthv1.ConditionReady)
		return ws.Status.ObservedGeneration == ws.Generation && len(h.pods("halfway")) == 2 && (r == nil || r.Reason != plinthv1.ReasonReconcileFailed)
	})
}
