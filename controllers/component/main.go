// Command plinth-component-controller reconciles Components: it renders
// Services, ConfigMaps, agent RBAC, PDBs, TLS material and fully rendered
// WorkloadSets from the pinned plugin version.
package main

import (
	"context"
	"os"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/plinth-io/plinth/controllers/component/internal/component"
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

func setup(ctx context.Context, mgr manager.Manager, o *ctrlmanager.Options, _ logr.Logger) error {
	return component.Setup(ctx, mgr, component.Options{
		FieldManager:      o.FieldManager(),
		Controller:        o.ControllerOptions(),
		PlatformNamespace: o.PlatformNamespace,
	})
}
