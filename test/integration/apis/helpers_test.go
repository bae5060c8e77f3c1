package apis_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// readExample loads one file of examples/ as an unstructured object.
func readExample(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(env.Root, "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return fromYAML(t, data)
}

func fromYAML(t *testing.T, data []byte) *unstructured.Unstructured {
	t.Helper()
	m := map[string]any{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

// apply is kubectl apply --server-side: it sends only what obj holds, not
// fields the server added to it on an earlier call.
func apply(ctx context.Context, obj *unstructured.Unstructured, opts ...client.PatchOption) error {
	o := obj.DeepCopy()
	o.SetManagedFields(nil)
	o.SetResourceVersion("")
	o.SetUID("")
	o.SetCreationTimestamp(metav1.Time{})
	o.SetGeneration(0)
	unstructured.RemoveNestedField(o.Object, "status")
	return env.Client.Patch(ctx, o, client.Apply, append([]client.PatchOption{client.FieldOwner("plinth-test"), client.ForceOwnership}, opts...)...)
}

func set(t *testing.T, obj *unstructured.Unstructured, value any, path ...string) {
	t.Helper()
	if err := unstructured.SetNestedField(obj.Object, value, path...); err != nil {
		t.Fatalf("setting %v: %v", path, err)
	}
}

// setComponentField sets a field of spec.components[0].
func setComponentField(t *testing.T, obj *unstructured.Unstructured, value any, path ...string) {
	t.Helper()
	comps, _, _ := unstructured.NestedSlice(obj.Object, "spec", "components")
	c := comps[0].(map[string]any)
	if err := unstructured.SetNestedField(c, value, path...); err != nil {
		t.Fatalf("setting components[0].%v: %v", path, err)
	}
	comps[0] = c
	set(t, obj, comps, "spec", "components")
}

func gvk(kind string) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: "plinth.io", Version: "v1alpha1", Kind: kind}
}
