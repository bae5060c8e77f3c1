package application

import (
	"context"
	"errors"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/skeleton"
	"github.com/plinth-io/plinth/internal/ssa"
	"github.com/plinth-io/plinth/pluginregistry"
)

// indexPlugin indexes Applications by spec.plugin, so that a change of a
// plugin's ConfigMaps reaches exactly the Applications using that plugin.
const indexPlugin = "spec.plugin"

// Options wire the application reconciler into a manager.
type Options struct {
	// FieldManager is the binary's one server-side-apply identity
	// (ctrlmanager.Options.FieldManager()): Components and the status are
	// applied under it. Required.
	FieldManager string
	// Controller sets workers, backoff and the per-reconcile deadline
	// (ctrlmanager.Options.ControllerOptions()). ReconciliationTimeout is
	// required: every reconcile runs under a deadline.
	Controller controller.Options
	// PlatformNamespace holds the plugin ConfigMaps. Required.
	PlatformNamespace string
	// Plugins, optional, serves the plugin versions; nil builds the plugin
	// registry over PlatformNamespace and adds it to the manager.
	Plugins Plugins
}

// validate names the first missing dependency.
func (o Options) validate() error {
	switch {
	case o.FieldManager == "":
		return errors.New("application controller: Options.FieldManager is required (ctrlmanager.Options.FieldManager())")
	case o.Controller.ReconciliationTimeout <= 0:
		return errors.New("application controller: Options.Controller.ReconciliationTimeout is required (ctrlmanager.Options.ControllerOptions())")
	case o.PlatformNamespace == "":
		return errors.New("application controller: Options.PlatformNamespace is required (the namespace of the plugin ConfigMaps)")
	}
	return nil
}

// Setup validates o, then registers the application reconciler with mgr:
// the plugin registry (unless given), an index of Applications by plugin,
// and watches of Applications, the Components they own, and the plugin
// ConfigMaps of the platform namespace (through the plugin registry's
// informer, the one watch on them).
func Setup(ctx context.Context, mgr manager.Manager, o Options) error {
	if err := o.validate(); err != nil {
		return err
	}
	if o.Plugins == nil {
		reg, err := pluginregistry.AddToManager(mgr, o.PlatformNamespace, mgr.GetLogger())
		if err != nil {
			return err
		}
		o.Plugins = reg
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
		FieldManager:      o.FieldManager,
		Recorder:          mgr.GetEventRecorder(o.FieldManager),
		status:            ssa.Applier{Client: mgr.GetClient(), FieldManager: o.FieldManager},
	}
	r.pass = r.controller()
	return ctrl.NewControllerManagedBy(mgr).
		Named("application").
		For(&plinthv1.Application{}, builder.WithPredicates(skeleton.IgnoreStatusOnly())).
		Owns(&plinthv1.Component{}).
		WatchesRawSource(&source.Informer{Informer: o.Plugins.Informer(),
			Handler: handler.EnqueueRequestsFromMapFunc(r.applicationsUsingPlugin)}).
		WithOptions(o.Controller).
		Complete(r)
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
