// Command plinth-operation-controller reconciles Operations: it runs each Operation's template steps one at a time per target, persisting progress before each step.
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
		"operation-controller",
		"Reconciles Plinth Operations",
		"plinth-operation-controller runs each Operation's template steps one at a time per target, persisting progress before each step.",
		setup,
	)))
}

// setup registers this binary's reconcilers with the manager.
func setup(_ context.Context, _ manager.Manager, _ *ctrlmanager.Options, log logr.Logger) error {
	log.Info("no reconcilers are registered yet; the manager only holds the Lease and serves probes")
	return nil
}
