// Command plinth-component-controller reconciles Components: it renders
// Services, ConfigMaps, agent RBAC, PDBs, TLS material and fully rendered
// WorkloadSets from the pinned plugin version.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/plinth-io/plinth/controllers/component/internal/componentctrl"
	"github.com/plinth-io/plinth/internal/cli"
	"github.com/plinth-io/plinth/internal/ctrlmanager"
	"github.com/plinth-io/plinth/pluginregistry"
)

func main() {
	os.Exit(cli.Execute(ctrlmanager.NewCommand(
		"component-controller",
		"Reconciles Plinth Components",
		"plinth-component-controller renders Services, ConfigMaps, agent RBAC, PDBs, TLS material and fully rendered WorkloadSets from the pinned plugin version.",
		setup,
	)))
}

// setup wires the plugin registry and the Component reconciler.
func setup(_ context.Context, mgr manager.Manager, o *ctrlmanager.Options, log logr.Logger) error {
	cs, err := kubernetes.NewForConfig(mgr.GetConfig())
	if err != nil {
		return err
	}
	plugins, err := pluginregistry.New(cs, pluginregistry.Options{Namespace: o.PlatformNamespace, Log: log.WithName("plugins")})
	if err != nil {
		return fmt.Errorf("plugin registry: %w", err)
	}
	if err := mgr.Add(plugins); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("plugins", plugins.ReadyCheck); err != nil {
		return err
	}
	r := &componentctrl.Reconciler{
		Client:  mgr.GetClient(),
		Plugins: plugins,
		Platform: componentctrl.Platform{
			Namespace: o.PlatformNamespace,
			BinDir:    "/plinth/bin",
		},
	}
	return r.SetupWithManager(mgr, o.ControllerOptions(), o.ReconcileTimeout)
}
