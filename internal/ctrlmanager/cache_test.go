package ctrlmanager_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

// The manager's cache holds the Pods, PVCs, Secrets and ConfigMaps Plinth
// created and nothing else of those kinds: not a user's, and not the plugin
// ConfigMaps (the plugin registry's informer has those).
func TestCacheHoldsOnlyPlinthObjects(t *testing.T) {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "cache-"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), ns) })

	managed := map[string]string{plinthv1.LabelManagedBy: plinthv1.ManagedByPlinth}
	plugin := map[string]string{plinthv1.LabelManagedBy: plinthv1.ManagedByPlinth, plinthv1.LabelPlugin: "redis", plinthv1.LabelPluginVersion: "1.0.0"}
	meta := func(name string, l map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: ns.Name, Labels: l}
	}
	pod := func(name string, l map[string]string) client.Object {
		return &corev1.Pod{ObjectMeta: meta(name, l), Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	}
	pvc := func(name string, l map[string]string) client.Object {
		return &corev1.PersistentVolumeClaim{ObjectMeta: meta(name, l), Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		}}
	}
	secret := func(name string, l map[string]string) client.Object {
		return &corev1.Secret{ObjectMeta: meta(name, l), StringData: map[string]string{"password": "not-cached"}}
	}
	configMap := func(name string, l map[string]string) client.Object {
		return &corev1.ConfigMap{ObjectMeta: meta(name, l), Data: map[string]string{"k": "v"}}
	}

	// Objects the cache must not hold are created first: once the one it
	// must hold (created last) is visible, the watch has passed them.
	type kind struct {
		name        string
		make        func(string, map[string]string) client.Object
		list        client.ObjectList
		notCached   map[string]map[string]string
		cachedName  string
		cachedLabel map[string]string
	}
	kinds := []kind{
		{"Pod", pod, &corev1.PodList{}, map[string]map[string]string{"users": nil, "other-manager": {plinthv1.LabelManagedBy: "helm"}}, "plinths", managed},
		{"PVC", pvc, &corev1.PersistentVolumeClaimList{}, map[string]map[string]string{"users": nil}, "plinths", managed},
		{"Secret", secret, &corev1.SecretList{}, map[string]map[string]string{"users": nil, "other-manager": {plinthv1.LabelManagedBy: "helm"}}, "plinths", managed},
		{"ConfigMap", configMap, &corev1.ConfigMapList{}, map[string]map[string]string{"users": nil, "plugin": plugin}, "plinths", managed},
	}
	for _, k := range kinds {
		for name, l := range k.notCached {
			if err := env.Client.Create(ctx, k.make(name, l)); err != nil {
				t.Fatal(err)
			}
		}
		if err := env.Client.Create(ctx, k.make(k.cachedName, k.cachedLabel)); err != nil {
			t.Fatal(err)
		}
	}

	mgr, _, _ := startManager(t, "cache-scope-controller")
	c := mgr.GetClient()
	for _, k := range kinds {
		key := client.ObjectKey{Namespace: ns.Name, Name: k.cachedName}
		var last error // NotFound until the watch delivers it; not started before the manager is
		if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
			last = c.Get(ctx, key, k.make("", nil))
			return last == nil, nil
		}); err != nil {
			t.Fatalf("%s %s, made by Plinth, never reached the cache: %v (last read: %v)", k.name, k.cachedName, err, last)
		}
		for name := range k.notCached {
			err := c.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: name}, k.make("", nil))
			if !apierrors.IsNotFound(err) {
				t.Errorf("%s %s (must not be cached) read from the cache: err = %v, want NotFound", k.name, name, err)
			}
			if err := mgr.GetAPIReader().Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: name}, k.make("", nil)); err != nil {
				t.Errorf("%s %s through the API reader: %v", k.name, name, err)
			}
		}
		if err := c.List(ctx, k.list, client.InNamespace(ns.Name)); err != nil {
			t.Fatal(err)
		}
		if names := listNames(t, k.list); len(names) != 1 || names[0] != k.cachedName {
			t.Errorf("cached %s list = %v, want only %s", k.name, names, k.cachedName)
		}
	}
}

func listNames(t *testing.T, l client.ObjectList) []string {
	t.Helper()
	items, err := apimeta.ExtractList(l)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(items))
	for _, o := range items {
		out = append(out, o.(client.Object).GetName())
	}
	return out
}
