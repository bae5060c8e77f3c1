// Command plinth-workloadset-controller reconciles WorkloadSets: it manages Pods and PVCs directly, copies the role each pod reports into its label, and rolls out template changes by role.
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
		"workloadset-controller",
		"Reconciles Plinth WorkloadSets",
		"plinth-workloadset-controller manages Pods and PVCs directly, copies the role each pod reports into its label, and rolls out template changes by role.",
		setup,
	)))
}

// setup registers this binary's reconcilers with the manager.
func setup(_ context.Context, _ manager.Manager, _ *ctrlmanager.Options, log logr.Logger) error {
	log.Info("no reconcilers are registered yet; the manager only holds the Lease and serves probes")
	return nil
}
