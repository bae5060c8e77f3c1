package component

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/agentclient"
	"github.com/plinth-io/plinth/internal/skeleton"
	"github.com/plinth-io/plinth/internal/ssa"
	"github.com/plinth-io/plinth/pluginregistry"
)

// DefaultBinDir is where the init container copies the platform binaries.
const DefaultBinDir = "/plinth/bin"

// Options wire the component reconciler into a manager.
type Options struct {
	// FieldManager is the binary's one server-side-apply identity
	// (ctrlmanager.Options.FieldManager()): children and the status are
	// applied under it. Required.
	FieldManager string
	// Controller sets workers, backoff and the per-reconcile deadline
	// (ctrlmanager.Options.ControllerOptions()). ReconciliationTimeout is
	// required: every reconcile runs under a deadline.
	Controller controller.Options
	// PlatformNamespace holds the plugin ConfigMaps. Required.
	PlatformNamespace string
	// BinDir is where pods find the platform binaries (default DefaultBinDir).
	BinDir string
	// Plugins, optional, serves the plugin versions; nil builds the plugin
	// registry over PlatformNamespace and adds it to the manager.
	Plugins Plugins
	// Agents, optional, runs bootstrap actions on pods' ops agents; nil is
	// an agentclient.Client reading certificates through the manager's client.
	Agents Agents
	// Now, optional, is the clock (tests pin it); nil is time.Now.
	Now func() time.Time
}

// validate names the first missing dependency.
func (o Options) validate() error {
	switch {
	case o.FieldManager == "":
		return errors.New("component controller: Options.FieldManager is required (ctrlmanager.Options.FieldManager())")
	case o.Controller.ReconciliationTimeout <= 0:
		return errors.New("component controller: Options.Controller.ReconciliationTimeout is required (ctrlmanager.Options.ControllerOptions())")
	case o.PlatformNamespace == "":
		return errors.New("component controller: Options.PlatformNamespace is required (the namespace of the plugin ConfigMaps)")
	}
	return nil
}

// Setup validates o, then registers the component reconciler with mgr: the
// plugin registry (unless given), and watches of Components and of every
// kind of child they own.
func Setup(_ context.Context, mgr manager.Manager, o Options) error {
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
	if o.BinDir == "" {
		o.BinDir = DefaultBinDir
	}
	r := &Reconciler{
		Client:   mgr.GetClient(),
		Plugins:  o.Plugins,
		Platform: Platform{Namespace: o.PlatformNamespace, BinDir: o.BinDir},
		Agents:   o.Agents,
		Now:      o.Now,
		Recorder: mgr.GetEventRecorder(o.FieldManager),
		apply:    ssa.Applier{Client: mgr.GetClient(), FieldManager: o.FieldManager},
	}
	r.pass = r.controller()
	if r.Agents == nil {
		r.Agents = &agentclient.Client{Reader: r.Client}
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("component").
		For(&plinthv1.Component{}, builder.WithPredicates(skeleton.IgnoreStatusOnly())).
		Owns(&plinthv1.WorkloadSet{}, builder.WithPredicates(workloadSetChanged())).
		Owns(&corev1.Service{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&corev1.Secret{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&rbacv1.Role{}).
		Owns(&rbacv1.RoleBinding{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		WithOptions(o.Controller).
		Complete(r)
}
