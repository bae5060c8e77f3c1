// Command plinth-component-controller reconciles Components: it renders Services, ConfigMaps, agent RBAC, PDBs, TLS material and fully rendered WorkloadSets from the pinned plugin version.
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
		"component-controller",
		"Reconciles Plinth Components",
		"plinth-component-controller renders Services, ConfigMaps, agent RBAC, PDBs, TLS material and fully rendered WorkloadSets from the pinned plugin version.",
		setup,
	)))
}

// setup registers this binary's reconcilers with the manager.
func setup(_ context.Context, _ manager.Manager, _ *ctrlmanager.Options, log logr.Logger) error {
	log.Info("no reconcilers are registered yet; the manager only holds the Lease and serves probes")
	return nil
}
