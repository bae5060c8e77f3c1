package tenancy_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// bind gives user the ClusterRole role in namespace ns.
func bind(t *testing.T, ns, role, user string) {
	t.Helper()
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role + "-" + user, Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}
	if err := env.Client.Create(context.Background(), rb); err != nil {
		t.Fatal(err)
	}
}

func application(ns, name string) *plinthv1.Application {
	return &plinthv1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       plinthv1.ApplicationSpec{Plugin: "redis", PluginVersion: "v1.2.0", Version: "7.2", Topology: "standalone"},
	}
}

func operation(ns, name string) *plinthv1.Operation {
	return &plinthv1.Operation{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: plinthv1.OperationSpec{
			TargetRef:   plinthv1.TargetReference{Kind: "Application", Name: "cache"},
			TemplateRef: "Restart",
		},
	}
}

func workloadSet(ns, name string) *plinthv1.WorkloadSet {
	return &plinthv1.WorkloadSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: plinthv1.WorkloadSetSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}},
		},
	}
}

func component(ns, name string) *plinthv1.Component {
	return &plinthv1.Component{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: plinthv1.ComponentSpec{Application: "cache", Plugin: "redis", PluginVersion: "v1.2.0",
			Version: "7.2", Topology: "standalone", ComponentDef: "redis", Replicas: 1},
	}
}

func allowed(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v, want allowed", what, err)
	}
}

func forbidden(t *testing.T, what string, err error) {
	t.Helper()
	if !apierrors.IsForbidden(err) {
		t.Errorf("%s: %v, want Forbidden", what, err)
	}
}

// An editor of namespace A (plinth-edit bound there) creates Applications and
// Operations in A, reads Components and WorkloadSets there but cannot
// create them, and can read nothing of namespace B.
func TestEditorOfOneNamespace(t *testing.T) {
	ctx := context.Background()
	a, b := newNamespace(t, "team-a-"), newNamespace(t, "team-b-")
	// Objects in B made by the platform's administrator.
	for _, o := range []client.Object{application(b, "cache"), operation(b, "restart"), component(b, "cache-redis"), workloadSet(b, "cache-redis")} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	bind(t, a, "plinth-edit", "alice")
	alice := as(t, "alice")

	allowed(t, "create an Application in A", alice.Create(ctx, application(a, "cache")))
	allowed(t, "create an Operation in A", alice.Create(ctx, operation(a, "restart")))
	app := &plinthv1.Application{}
	allowed(t, "get the Application in A", alice.Get(ctx, client.ObjectKey{Namespace: a, Name: "cache"}, app))
	app.Spec.Stopped = true
	allowed(t, "update the Application in A", alice.Update(ctx, app))
	allowed(t, "list Components in A", alice.List(ctx, &plinthv1.ComponentList{}, client.InNamespace(a)))
	allowed(t, "list WorkloadSets in A", alice.List(ctx, &plinthv1.WorkloadSetList{}, client.InNamespace(a)))
	forbidden(t, "create a WorkloadSet in A", alice.Create(ctx, workloadSet(a, "cache-redis")))
	forbidden(t, "create a Component in A", alice.Create(ctx, component(a, "cache-redis")))
	if err := env.Client.Create(ctx, workloadSet(a, "cache-redis")); err != nil {
		t.Fatal(err)
	}
	forbidden(t, "delete a WorkloadSet in A", alice.Delete(ctx, workloadSet(a, "cache-redis")))

	for _, l := range []client.ObjectList{&plinthv1.ApplicationList{}, &plinthv1.OperationList{}, &plinthv1.ComponentList{},
		&plinthv1.WorkloadSetList{}, &plinthv1.BackupList{}, &plinthv1.BackupScheduleList{}} {
		forbidden(t, "list in B", alice.List(ctx, l, client.InNamespace(b)))
	}
	forbidden(t, "get the Application in B", alice.Get(ctx, client.ObjectKey{Namespace: b, Name: "cache"}, &plinthv1.Application{}))
	forbidden(t, "get the Operation in B", alice.Get(ctx, client.ObjectKey{Namespace: b, Name: "restart"}, &plinthv1.Operation{}))
	forbidden(t, "create an Application in B", alice.Create(ctx, application(b, "other")))
	forbidden(t, "list Applications in every namespace", alice.List(ctx, &plinthv1.ApplicationList{}))
}

// A viewer reads every Plinth kind in its namespace and writes none.
func TestViewerOfOneNamespace(t *testing.T) {
	ctx := context.Background()
	a := newNamespace(t, "team-a-")
	if err := env.Client.Create(ctx, application(a, "cache")); err != nil {
		t.Fatal(err)
	}
	bind(t, a, "plinth-view", "bob")
	bob := as(t, "bob")
	for _, l := range []client.ObjectList{&plinthv1.ApplicationList{}, &plinthv1.OperationList{}, &plinthv1.ComponentList{},
		&plinthv1.WorkloadSetList{}, &plinthv1.BackupList{}, &plinthv1.BackupScheduleList{}} {
		allowed(t, "list in A", bob.List(ctx, l, client.InNamespace(a)))
	}
	forbidden(t, "create an Application in A", bob.Create(ctx, application(a, "other")))
	forbidden(t, "create an Operation in A", bob.Create(ctx, operation(a, "restart")))
	forbidden(t, "delete the Application in A", bob.Delete(ctx, application(a, "cache")))
}

// Each role carries the label that the built-in ClusterRole of its level
// aggregates from, as the API server bootstrapped it. The aggregation itself
// is done by kube-controller-manager's clusterrole-aggregation controller,
// which envtest does not run: test/e2e (TestTenancy) checks it on a real
// cluster.
func TestRolesAggregateIntoTheBuiltInOnes(t *testing.T) {
	ctx := context.Background()
	for _, level := range []string{"view", "edit", "admin"} {
		builtin, ours := &rbacv1.ClusterRole{}, &rbacv1.ClusterRole{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: level}, builtin); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: "plinth-" + level}, ours); err != nil {
			t.Fatal(err)
		}
		if builtin.AggregationRule == nil {
			t.Fatalf("the built-in %s has no aggregation rule", level)
		}
		matched := false
		for _, sel := range builtin.AggregationRule.ClusterRoleSelectors {
			s, err := metav1.LabelSelectorAsSelector(&sel)
			if err != nil {
				t.Fatal(err)
			}
			matched = matched || s.Matches(labels.Set(ours.Labels))
		}
		if !matched {
			t.Errorf("plinth-%s (labels %v) is not selected by the built-in %s's aggregation rule %+v", level, ours.Labels, level, builtin.AggregationRule)
		}
	}
}
