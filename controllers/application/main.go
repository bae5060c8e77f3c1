// Command plinth-application-controller reconciles Applications: it resolves the pinned plugin version, validates the Application against it, and creates one Component per topology component.
package main

import (
	"context"
	"os"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/manager"

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

// setup registers this binary's reconcilers with the manager.
func setup(_ context.Context, _ manager.Manager, _ *ctrlmanager.Options, log logr.Logger) error {
	log.Info("no reconcilers are registered yet; the manager only holds the Lease and serves probes")
	return nil
}
