// Command plinth-backup-controller reconciles Backups and BackupSchedules: it runs backup Jobs, records location, size and checksum, and applies retention.
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
		"backup-controller",
		"Reconciles Plinth Backups and BackupSchedules",
		"plinth-backup-controller runs backup Jobs, records location, size and checksum, and applies retention.",
		setup,
	)))
}

// setup registers this binary's reconcilers with the manager.
func setup(_ context.Context, _ manager.Manager, _ *ctrlmanager.Options, log logr.Logger) error {
	log.Info("no reconcilers are registered yet; the manager only holds the Lease and serves probes")
	return nil
}
