package operation_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

// installPolicy applies the manifests of deploy/kustomize/base/admission/file.
func installPolicy(t *testing.T, file string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(env.Root, "deploy", "kustomize", "base", "admission", file))
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if err := env.Client.Create(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), u) })
	}
}

// The API server records who created an Operation, overwriting a value the
// request carries, and keeps it when someone tries to change it.
func TestRequestedByIsSetByTheAPIServer(t *testing.T) {
	ns := namespace(t)
	installPolicy(t, "operation-requested-by.yaml")
	ctx := context.Background()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "ops", Namespace: ns},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"plinth.io"}, Resources: []string{"operations"}, Verbs: []string{"create", "get", "update"}}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "ops", Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "ops"},
		Subjects: []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "alice@example.com"}}}
	for _, o := range []client.Object{role, binding} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "alice@example.com"}
	alice, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	// The policy takes effect within seconds of its creation.
	var op *plinthv1.Operation
	for i := 0; ; i++ {
		op = &plinthv1.Operation{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "who-", Namespace: ns, Annotations: map[string]string{plinthv1.AnnotationRequestedBy: "mallory"}},
			Spec:       plinthv1.OperationSpec{TargetRef: plinthv1.TargetReference{Name: "nothing"}, TemplateRef: "Restart"},
		}
		if err := alice.Create(ctx, op); err != nil {
			t.Fatal(err)
		}
		if op.Annotations[plinthv1.AnnotationRequestedBy] == "alice@example.com" {
			break
		}
		if i > 100 {
			t.Fatalf("requested-by is %q, want alice@example.com", op.Annotations[plinthv1.AnnotationRequestedBy])
		}
		time.Sleep(100 * time.Millisecond)
	}
	op.Annotations[plinthv1.AnnotationRequestedBy] = "mallory"
	if err := env.Client.Update(ctx, op); err != nil {
		t.Fatal(err)
	}
	if got := op.Annotations[plinthv1.AnnotationRequestedBy]; got != "alice@example.com" {
		t.Fatalf("after an update requested-by is %q, want it kept as alice@example.com", got)
	}
}
