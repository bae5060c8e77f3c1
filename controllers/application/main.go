// Command plinth-application-controller reconciles Applications: it resolves the pinned plugin version, validates the Application against it, and creates one Component per topology component.
package main

import (
	"context"
	"os"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/plinth-io/plinth/controllers/application/internal/application"
	"github.com/plinth-io/plinth/internal/cli"
	"github.com/plinth-io/plinth/internal/ctrlmanager"
	"github.com/plinth-io/plinth/internal/deadline"
)

func main() {
	os.Exit(cli.Execute(ctrlmanager.NewCommand(
		"application-controller",
		"Reconciles Plinth Applications",
		"plinth-application-controller resolves the pinned plugin version, validates the Application against it, and creates one Component per topology component.",
		setup,
	)))
}

// setup registers this binary's reconcilers with the manager: the plugin
// registry over the platform namespace, and the application reconciler under
// the per-reconcile deadline.
func setup(ctx context.Context, mgr manager.Manager, o *ctrlmanager.Options, log logr.Logger) error {
	reg, err := application.NewRegistry(mgr, o.PlatformNamespace, log)
	if err != nil {
		return err
	}
	return application.Setup(ctx, mgr, application.Options{
		Plugins:           reg,
		PlatformNamespace: o.PlatformNamespace,
		Controller:        o.ControllerOptions(),
		Wrap: func(r reconcile.Reconciler) reconcile.Reconciler {
			return deadline.Reconciler(r, o.ReconcileTimeout)
		},
	})
}
