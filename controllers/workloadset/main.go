// Command plinth-workloadset-controller reconciles WorkloadSets: it manages Pods and PVCs directly, copies the role each pod reports into its label, and rolls out template changes by role.
package main

import (
	"context"
	"os"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/plinth-io/plinth/controllers/workloadset/internal/workloadset"
	"github.com/plinth-io/plinth/internal/agentclient"
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

func setup(ctx context.Context, mgr manager.Manager, o *ctrlmanager.Options, _ logr.Logger) error {
	return workloadset.Setup(ctx, mgr, workloadset.Options{
		FieldManager: o.FieldManager(),
		Controller:   o.ControllerOptions(),
		ImageRules:   o.ImageRules(),
		// Secrets (the controllers' agent client certificate) are read
		// directly, not watched: no cluster-wide Secret cache.
		Switchover: &workloadset.AgentSwitchover{
			Agents:   &agentclient.Client{Reader: mgr.GetAPIReader()},
			Recorder: mgr.GetEventRecorder("plinth-" + o.Name),
		},
	})
}
