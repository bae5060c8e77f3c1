package integration

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

// controllerUser is the identity of the controller's ServiceAccount.
const controllerUser = "system:serviceaccount:" + platformNamespace + ":plinth-application-controller"

// The controller does its whole job with only the rules of
// deploy/kustomize/base/rbac/application-controller/role.yaml (generated
// from the markers in controllers/application/rbac.go).
func TestLeastPrivilegeRBAC(t *testing.T) {
	grantControllerRBAC(t)
	ns := newNamespace(t)
	startController(t, ns, controllerOptions{user: controllerUser})

	if err := env.Client.Create(ctx(t), redisApp(ns, "least", func(a *plinthv1.Application) { a.Spec.TerminationPolicy = plinthv1.TerminationWipeOut })); err != nil {
		t.Fatal(err)
	}
	waitForComponent(t, ns, "least-redis", nil)
	waitForPhase(t, ns, "least", plinthv1.ApplicationCreating)
	if !secretExists(t, ns, "least-credentials") {
		t.Fatal("no credentials Secret")
	}
	setComponentStatus(t, ns, "least-redis", plinthv1.ComponentRunning, 1)
	waitForPhase(t, ns, "least", plinthv1.ApplicationRunning)

	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data-least-redis-0", Namespace: ns, Labels: map[string]string{plinthv1.LabelApplication: "least"}},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if err := env.Client.Create(ctx(t), pvc); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(ctx(t), redisApp(ns, "least")); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ns, "least")
	if !pvcDeletedOrGone(t, ns, pvc.Name) {
		t.Error("WipeOut did not delete the PVC")
	}
}

// grantControllerRBAC binds the generated roles to the controller's user.
func grantControllerRBAC(t *testing.T) {
	t.Helper()
	roles, err := env.GrantGeneratedRBAC(ctx(t), "application-controller", controllerUser)
	if err != nil {
		t.Fatal(err)
	}
	if roles != 2 {
		t.Fatalf("the generated RBAC has %d roles, want a ClusterRole and a Role", roles)
	}
}

func createOrSkip(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(ctx(t), obj); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating %s: %v", obj.GetName(), err)
	}
}
