// Command plinth-operation-controller reconciles Operations: it runs each Operation's template steps one at a time per target, persisting progress before each step.
package main

import (
	"context"
	"os"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/plinth-io/plinth/controllers/operation/internal/operation"
	"github.com/plinth-io/plinth/internal/cli"
	"github.com/plinth-io/plinth/internal/ctrlmanager"
)

func main() {
	var retention operation.Retention
	cmd := ctrlmanager.NewCommand(
		"operation-controller",
		"Reconciles Plinth Operations",
		"plinth-operation-controller runs each Operation's template steps one at a time per target, persisting progress before each step.",
		func(ctx context.Context, mgr manager.Manager, o *ctrlmanager.Options, _ logr.Logger) error {
			return operation.Setup(ctx, mgr, operation.Options{
				FieldManager:      o.FieldManager(),
				Controller:        o.ControllerOptions(),
				PlatformNamespace: o.PlatformNamespace,
				Retention:         retention,
			})
		},
	)
	cmd.Flags().IntVar(&retention.History, "operation-history", 20, "finished Operations kept per target, newest first (0 keeps all); spec.ttlSecondsAfterFinished overrides it")
	cmd.Flags().DurationVar(&retention.MaxAge, "operation-max-age", 30*24*time.Hour, "finished Operations are deleted this long after they ended (0 keeps them); spec.ttlSecondsAfterFinished overrides it")
	os.Exit(cli.Execute(cmd))
}
