package ctrlmanager

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

// ManagedSelector selects the objects Plinth creates (labelled
// app.kubernetes.io/managed-by=plinth) other than the plugin ConfigMaps: the
// plugin registry's own informer holds those, so no binary keeps them twice.
func ManagedSelector() labels.Selector {
	managed, err := labels.NewRequirement(plinthv1.LabelManagedBy, selection.Equals, []string{plinthv1.ManagedByPlinth})
	if err != nil {
		panic(err) // constant input
	}
	notPlugin, err := labels.NewRequirement(plinthv1.LabelPlugin, selection.DoesNotExist, nil)
	if err != nil {
		panic(err) // constant input
	}
	return labels.NewSelector().Add(*managed, *notPlugin)
}

// scopedKinds are the kinds a cluster holds many of that are not Plinth's:
// the manager caches only those Plinth created (ManagedSelector), so a
// controller's memory grows with Plinth's objects, not with the cluster.
// A read of one Plinth did not create (a user's Secret) must go to the API
// server (manager.GetAPIReader()); docs/caches.md has the rule.
func scopedKinds() []client.Object {
	return []client.Object{&corev1.Pod{}, &corev1.PersistentVolumeClaim{}, &corev1.Secret{}, &corev1.ConfigMap{}}
}

// CacheOptions are the manager's cache options: every namespace, or
// --watch-namespace, and only Plinth's own Pods, PVCs, Secrets and
// ConfigMaps.
func (o *Options) CacheOptions() cache.Options {
	co := cache.Options{ByObject: map[client.Object]cache.ByObject{}}
	if o.WatchNamespace != "" {
		co.DefaultNamespaces = map[string]cache.Config{o.WatchNamespace: {}}
	}
	sel := ManagedSelector()
	for _, obj := range scopedKinds() {
		co.ByObject[obj] = cache.ByObject{Label: sel}
	}
	return co
}
