package application

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/pluginregistry"
)

// indexPlugin indexes Applications by spec.plugin, so that a change of a
// plugin's ConfigMaps reaches exactly the Applications using that plugin.
const indexPlugin = "spec.plugin"

// Options wire a Reconciler into a manager.
type Options struct {
	// Plugins is the plugin registry (already added to the manager).
	Plugins Plugins
	// PlatformNamespace holds the plugin ConfigMaps.
	PlatformNamespace string
	// Controller sets workers and backoff (ctrlmanager.Options.ControllerOptions).
	Controller controller.Options
	// Wrap, when set, wraps the reconciler (for example with a deadline).
	Wrap func(reconcile.Reconciler) reconcile.Reconciler
}

// Setup registers the application reconciler with mgr: it watches
// Applications, the Components they own, and the plugin ConfigMaps of the
// platform namespace (through the plugin registry's informer, the one watch
// on them).
func Setup(ctx context.Context, mgr manager.Manager, o Options) error {
	if o.Plugins == nil || o.PlatformNamespace == "" {
		return fmt.Errorf("application controller: the plugin registry and the platform namespace are required")
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &plinthv1.Application{}, indexPlugin, func(obj client.Object) []string {
		return []string{obj.(*plinthv1.Application).Spec.Plugin}
	}); err != nil {
		return fmt.Errorf("indexing Applications by plugin: %w", err)
	}

	r := &Reconciler{
		Client:            mgr.GetClient(),
		APIReader:         mgr.GetAPIReader(),
		Plugins:           o.Plugins,
		PlatformNamespace: o.PlatformNamespace,
		Recorder:          mgr.GetEventRecorder(FieldManager),
	}
	var rec reconcile.Reconciler = r
	if o.Wrap != nil {
		rec = o.Wrap(rec)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("application").
		For(&plinthv1.Application{}, builder.WithPredicates(specOrLifecycleChanged())).
		Owns(&plinthv1.Component{}).
		WatchesRawSource(&source.Informer{Informer: o.Plugins.Informer(),
			Handler: handler.EnqueueRequestsFromMapFunc(r.applicationsUsingPlugin)}).
		WithOptions(o.Controller).
		Complete(rec)
}

// NewRegistry builds the plugin registry over the platform namespace's
// ConfigMaps and adds it to mgr (it runs on every replica, leader or not).
func NewRegistry(mgr manager.Manager, namespace string, log logr.Logger) (*pluginregistry.Registry, error) {
	cs, err := kubernetes.NewForConfig(mgr.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("creating the plugin registry's client: %w", err)
	}
	reg, err := pluginregistry.New(cs, pluginregistry.Options{Namespace: namespace, Log: log.WithName("pluginregistry")})
	if err != nil {
		return nil, fmt.Errorf("creating the plugin registry: %w", err)
	}
	if err := mgr.Add(reg); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("plugins", func(*http.Request) error {
		if !reg.HasSynced() {
			return errors.New("the plugin registry has not loaded the plugin ConfigMaps yet")
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return reg, nil
}

// applicationsUsingPlugin maps a plugin ConfigMap to the Applications of its
// plugin: a version installed after them lets them proceed. The registry
// validates a version after its informer sees the ConfigMaps and then writes
// its verdict (annotation plinth.io/validation) on the manifest ConfigMap;
// that update arrives here too, after the registry serves the new verdict.
func (r *Reconciler) applicationsUsingPlugin(ctx context.Context, cm client.Object) []reconcile.Request {
	plugin := cm.GetLabels()[plinthv1.LabelPlugin]
	if plugin == "" {
		return nil
	}
	var apps plinthv1.ApplicationList
	if err := r.Client.List(ctx, &apps, client.MatchingFields{indexPlugin: plugin}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing the Applications of a plugin whose ConfigMaps changed", "plugin", plugin)
		return nil
	}
	out := make([]reconcile.Request, 0, len(apps.Items))
	for _, a := range apps.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&a)})
	}
	return out
}

// specOrLifecycleChanged ignores updates that only changed an Application's
// status (its own writes): spec, deletion and finalizer changes pass.
func specOrLifecycleChanged() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld, e.ObjectNew
		return o.GetGeneration() != n.GetGeneration() ||
			!o.GetDeletionTimestamp().Equal(n.GetDeletionTimestamp()) ||
			!slices.Equal(o.GetFinalizers(), n.GetFinalizers())
	}}
}
