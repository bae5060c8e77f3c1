//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	crclient "sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

func quantities(kv ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return l
}

// A tenant namespace: a CPU/memory ResourceQuota (every container of a pod
// must have requests and limits) and a LimitRange bounding each container.
// The LimitRange's max is also the default Kubernetes gives a container that
// sets nothing: without Plinth's own requests and limits, one pod's agents
// would ask for a whole CPU each and the quota would refuse the first pod.
// The Redis replication Application (plugin v1.2.0, which declares the
// sidecars' resources) is admitted and reaches Running.
func TestTenancyQuotaAndLimitRangeAdmitThePods(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := namespace(t)
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "compute", Namespace: ns},
		Spec: corev1.ResourceQuotaSpec{Hard: quantities(
			"requests.cpu", "1", "requests.memory", "1Gi", "limits.cpu", "4", "limits.memory", "4Gi")},
	}
	if _, err := client.CoreV1().ResourceQuotas(ns).Create(ctx, quota, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	limits := &corev1.LimitRange{
		ObjectMeta: metav1.ObjectMeta{Name: "bounds", Namespace: ns},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer,
			Max:  quantities("cpu", "1", "memory", "1Gi"),
			Min:  quantities("cpu", "1m", "memory", "4Mi"),
		}}},
	}
	if _, err := client.CoreV1().LimitRanges(ns).Create(ctx, limits, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The quota admits nothing until kube-controller-manager has computed its status.
	eventually(t, time.Minute, func() error {
		q, err := client.CoreV1().ResourceQuotas(ns).Get(ctx, quota.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(q.Status.Hard) == 0 {
			return fmt.Errorf("quota status not computed yet")
		}
		return nil
	})

	app := redisApplication(ns, "quota", "7.0", "replication")
	two := int32(2)
	app.Spec.PluginVersion = "v1.2.0"
	app.Spec.Components[0].Replicas = &two
	app.Spec.Components[0].Resources = corev1.ResourceRequirements{
		Requests: quantities("cpu", "100m", "memory", "128Mi"),
		Limits:   quantities("cpu", "500m", "memory", "256Mi"),
	}
	if err := api(t).Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, ns, app.Name, plinthv1.ApplicationRunning, 5*time.Minute)

	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: plinthv1.LabelApplication + "=" + app.Name})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 2 {
		t.Fatalf("%d pods, want 2", len(pods.Items))
	}
	for _, p := range pods.Items {
		for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
			r := c.Resources
			// What Kubernetes would have given a container that set nothing.
			if r.Requests.Cpu().Cmp(resource.MustParse("1")) == 0 || r.Limits.Memory().Cmp(resource.MustParse("1Gi")) == 0 {
				t.Errorf("pod %s container %s has the LimitRange's defaults %+v, not its own", p.Name, c.Name, r)
			}
		}
	}
	q, err := client.CoreV1().ResourceQuotas(ns).Get(ctx, quota.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("quota used: %v", q.Status.Used)
}

// Kubernetes' own edit ClusterRole, bound in namespace A, carries the
// plinth-edit rules once kube-controller-manager has aggregated them: its
// holder creates Applications and Operations in A (dry run), cannot create
// WorkloadSets there and can read nothing of namespace B.
func TestTenancyBuiltInEditAggregatesPlinthEdit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := namespace(t), namespace(t)
	user := "e2e-tenancy-editor-" + a
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "editor", Namespace: a},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}
	if _, err := client.RbacV1().RoleBindings(a).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	api(t)
	cfg := rest.CopyConfig(restConfig)
	cfg.Impersonate.UserName = user
	editor, err := crclient.New(cfg, crclient.Options{Scheme: api(t).Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	dry := crclient.DryRunAll
	op := func(ns string) *plinthv1.Operation {
		return &plinthv1.Operation{
			ObjectMeta: metav1.ObjectMeta{Name: "restart", Namespace: ns},
			Spec:       plinthv1.OperationSpec{TargetRef: plinthv1.TargetReference{Kind: "Application", Name: "cache"}, TemplateRef: "Restart"},
		}
	}
	// The aggregation controller adds the rules within seconds of either role changing.
	eventually(t, time.Minute, func() error {
		if err := editor.Create(ctx, redisApplication(a, "cache", "7.0", "standalone"), dry); err != nil {
			return fmt.Errorf("create an Application in A: %w", err)
		}
		return nil
	})
	if err := editor.Create(ctx, op(a), dry); err != nil {
		t.Errorf("create an Operation in A: %v", err)
	}
	if err := editor.List(ctx, &plinthv1.WorkloadSetList{}, crclient.InNamespace(a)); err != nil {
		t.Errorf("list WorkloadSets in A: %v", err)
	}
	ws := &plinthv1.WorkloadSet{
		ObjectMeta: metav1.ObjectMeta{Name: "cache-redis", Namespace: a},
		Spec:       plinthv1.WorkloadSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}},
	}
	if err := editor.Create(ctx, ws, dry); !apierrors.IsForbidden(err) {
		t.Errorf("create a WorkloadSet in A: %v, want Forbidden", err)
	}
	for _, l := range []crclient.ObjectList{&plinthv1.ApplicationList{}, &plinthv1.OperationList{}, &plinthv1.WorkloadSetList{}, &corev1.PodList{}, &corev1.SecretList{}} {
		if err := editor.List(ctx, l, crclient.InNamespace(b)); !apierrors.IsForbidden(err) {
			t.Errorf("list %T in B: %v, want Forbidden", l, err)
		}
	}
	if err := editor.Create(ctx, op(b), dry); !apierrors.IsForbidden(err) {
		t.Errorf("create an Operation in B: %v, want Forbidden", err)
	}
}
