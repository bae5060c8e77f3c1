// Command plinth-application-controller reconciles Applications: it resolves the pinned plugin version, validates the Application against it, and creates one Component per topology component.
package main

import (
	"context"
	"os"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/plinth-io/plinth/controllers/application/internal/application"
	"github.com/plinth-io/plinth/internal/cli"
	"github.com/plinth-io/plinth/internal/ctrlmanager"
)

func main() {
	os.Exit(cli.Execute(ctrlmanager.NewCommand(
		"application-controller",
		"Reconciles Plinth Applications",
		"plinth-application-controller resolves the pinned plugin version, validates the Application against it, and creates one Component per topology component.",
		setup,
	)))
}

func setup(ctx context.Context, mgr manager.Manager, o *ctrlmanager.Options, _ logr.Logger) error {
	return application.Setup(ctx, mgr, application.Options{
		FieldManager:      o.FieldManager(),
		Controller:        o.ControllerOptions(),
		PlatformNamespace: o.PlatformNamespace,
	})
}
