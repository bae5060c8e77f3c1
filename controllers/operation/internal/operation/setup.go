package operation

import (
	"context"
	"errors"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/agentclient"
	"github.com/plinth-io/plinth/internal/skeleton"
	"github.com/plinth-io/plinth/internal/ssa"
	"github.com/plinth-io/plinth/pluginregistry"
)

// DefaultBinDir is where pod templates find Plinth's binaries.
const DefaultBinDir = "/plinth/bin"

// targetIndex indexes Operations by spec.targetRef.name.
const targetIndex = "spec.targetRef.name"

// Options wire the operation reconciler into a manager.
type Options struct {
	// FieldManager is the binary's server-side-apply identity; status,
	// patch and resource steps write under it. Required.
	FieldManager string
	// Controller sets workers, backoff and the per-reconcile deadline.
	// ReconciliationTimeout is required.
	Controller controller.Options
	// PlatformNamespace holds the plugin ConfigMaps. Required.
	PlatformNamespace string
	// Retention of finished Operations.
	Retention Retention
	// Plugins, optional, serves plugin versions; nil adds the registry.
	Plugins Plugins
	// Agents, optional, calls ops agents and procmgrs; nil reads the
	// controllers' client certificate with the manager's API reader.
	Agents Agents
	// Now, optional, is the clock.
	Now func() time.Time
}

func (o Options) validate() error {
	switch {
	case o.FieldManager == "":
		return errors.New("operation controller: Options.FieldManager is required (ctrlmanager.Options.FieldManager())")
	case o.Controller.ReconciliationTimeout <= 0:
		return errors.New("operation controller: Options.Controller.ReconciliationTimeout is required (ctrlmanager.Options.ControllerOptions())")
	case o.PlatformNamespace == "":
		return errors.New("operation controller: Options.PlatformNamespace is required (the namespace of the plugin ConfigMaps)")
	case o.Retention.History < 0 || o.Retention.MaxAge < 0:
		return errors.New("operation controller: Options.Retention: History and MaxAge must not be negative")
	}
	return nil
}

// Setup validates o, then registers the operation reconciler: it watches
// Operations; when one changes, the queued Operations on the same target
// are looked at again.
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
	if o.Agents == nil {
		o.Agents = &agentclient.Client{Reader: mgr.GetAPIReader()}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &plinthv1.Operation{}, targetIndex, func(obj client.Object) []string {
		return []string{obj.(*plinthv1.Operation).Spec.TargetRef.Name}
	}); err != nil {
		return err
	}
	r := &Reconciler{
		client:    mgr.GetClient(),
		apiReader: mgr.GetAPIReader(),
		plugins:   o.Plugins,
		agents:    o.Agents,
		status:    ssa.Applier{Client: mgr.GetClient(), FieldManager: o.FieldManager},
		recorder:  mgr.GetEventRecorder(o.FieldManager),
		platform:  pluginregistry.PlatformRef{Image: plinthv1.PlatformImage, Namespace: o.PlatformNamespace, BinDir: DefaultBinDir},
		retention: o.Retention,
		now:       o.Now,
	}
	r.pass = r.controller()
	c := mgr.GetClient()
	return ctrl.NewControllerManagedBy(mgr).
		Named("operation").
		For(&plinthv1.Operation{}, builder.WithPredicates(skeleton.IgnoreStatusOnly())).
		Watches(&plinthv1.Operation{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, obj client.Object) []reconcile.Request {
			return sameTarget(ctx, c, obj.(*plinthv1.Operation))
		})).
		WithOptions(o.Controller).
		Complete(r)
}

// sameTarget lists the other Operations on op's target that have not
// started: one finishing (or going) may let the next one run.
func sameTarget(ctx context.Context, c client.Reader, op *plinthv1.Operation) []reconcile.Request {
	var list plinthv1.OperationList
	if err := c.List(ctx, &list, client.InNamespace(op.Namespace), client.MatchingFields{targetIndex: op.Spec.TargetRef.Name}); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		o := &list.Items[i]
		if o.UID != op.UID && !started(o) && !finished(o) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)})
		}
	}
	return out
}
