// Command plinth-status-agent runs a middleware's status probe and writes
// the result to its own Pod's annotation status.plinth.io/report: see
// docs/runtime.md.
package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/plinth-io/plinth/agents/status/internal/agent"
	"github.com/plinth-io/plinth/agents/status/internal/publish"
	"github.com/plinth-io/plinth/internal/cli"
	"github.com/plinth-io/plinth/internal/logging"
	"github.com/plinth-io/plinth/runtimeconfig"
)

func main() {
	os.Exit(cli.Execute(rootCommand()))
}

func rootCommand() *cobra.Command {
	var (
		logOpts                          logging.Options
		probeFile, kubeconfig, reportOut string
		podName, podNamespace            string
	)
	cmd := &cobra.Command{
		Use:   "plinth-status-agent --probe FILE",
		Short: "Probe the middleware's role and health and report it on the Pod",
		Long: `plinth-status-agent runs the plugin's status probe every interval and writes
the report (role, healthy, details, timestamp, sequence) to its own Pod's
annotation status.plinth.io/report: at once when the role or health changes,
otherwise as a heartbeat. It needs get and patch on its own Pod only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logOpts.New()
			if err != nil {
				return err
			}
			if podName == "" || podNamespace == "" {
				return errors.New("the Pod's name and namespace are required: --pod-name/--pod-namespace or POD_NAME/POD_NAMESPACE from the downward API")
			}
			p, err := runtimeconfig.LoadProbe(probeFile)
			if err != nil {
				return err
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
			if err != nil {
				return err
			}
			cfg.QPS, cfg.Burst = 5, 10
			cfg.UserAgent = "plinth-status-agent"
			client, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return err
			}
			a, err := agent.New(agent.Options{
				Probe:      p,
				Publisher:  publish.New(client, podNamespace, podName, log.WithName("publish")),
				ReportFile: reportOut,
				Log:        log,
			})
			if err != nil {
				return err
			}
			log.Info("plinth-status-agent starting", "pod", podNamespace+"/"+podName, "probe", p.Command,
				"interval", p.Interval.String(), "heartbeat", p.Heartbeat.String())
			return a.Run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	logOpts.AddFlags(fs)
	fs.StringVar(&probeFile, "probe", "/plinth/config/probe.yaml", "probe file (YAML or JSON, see docs/runtime.md)")
	fs.StringVar(&podName, "pod-name", os.Getenv("POD_NAME"), "this Pod's name (default $POD_NAME)")
	fs.StringVar(&podNamespace, "pod-namespace", os.Getenv("POD_NAMESPACE"), "this Pod's namespace (default $POD_NAMESPACE)")
	fs.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: the Pod's service account)")
	fs.StringVar(&reportOut, "report-file", "", "also write every report to this file, for other containers of the Pod (empty: do not)")
	return cmd
}
