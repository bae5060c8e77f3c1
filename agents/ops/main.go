// Command plinth-ops-agent serves agent.v1 with mutual TLS: it runs the
// maintenance actions a plugin declares (ACL changes, CONFIG SET,
// switchover, freeze/thaw ...) with validated parameters. See
// docs/runtime.md.
package main

import (
	"fmt"
	"net"
	"os"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	agentv1 "github.com/plinth-io/plinth/proto/gen/agent/v1"

	"github.com/plinth-io/plinth/agents/ops/internal/actions"
	"github.com/plinth-io/plinth/agents/ops/internal/server"
	"github.com/plinth-io/plinth/internal/cli"
	"github.com/plinth-io/plinth/internal/logging"
	"github.com/plinth-io/plinth/internal/mtls"
	"github.com/plinth-io/plinth/runtimeconfig"
)

func main() {
	os.Exit(cli.Execute(rootCommand()))
}

func rootCommand() *cobra.Command {
	var (
		logOpts     logging.Options
		actionsFile string
		address     string
		tlsFiles    mtls.Files
		opts        server.Options
	)
	cmd := &cobra.Command{
		Use:   "plinth-ops-agent --actions FILE",
		Short: "Serve the plugin's maintenance actions over gRPC (agent.v1) with mutual TLS",
		Long: `plinth-ops-agent loads the actions a plugin declares (a mounted file, see
docs/runtime.md) and runs them on request: parameters are validated against
their declared types and constraints first, commands run as argv (never through
a shell built from parameters) in their own process group, killed at the
action's timeout, and the output returned is capped. Every call needs a client
certificate signed by the configured CA.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logOpts.New()
			if err != nil {
				return err
			}
			a, err := runtimeconfig.LoadActions(actionsFile)
			if err != nil {
				return err
			}
			store, err := mtls.NewStore(tlsFiles)
			if err != nil {
				return fmt.Errorf("gRPC TLS files: %w", err)
			}
			opts.Catalog = actions.NewCatalog(a)
			opts.Log = log
			lis, err := net.Listen("tcp", address)
			if err != nil {
				return err
			}
			gs := grpc.NewServer(mtls.ServerOptions(store)...)
			agentv1.RegisterAgentServiceServer(gs, server.New(opts))
			log.Info("serving agent.v1 with mutual TLS", "address", lis.Addr().String(), "actions", len(a.Actions))
			go func() {
				<-cmd.Context().Done()
				log.Info("stopping: letting running actions finish")
				gs.GracefulStop()
			}()
			return gs.Serve(lis)
		},
	}
	fs := cmd.Flags()
	logOpts.AddFlags(fs)
	fs.StringVar(&actionsFile, "actions", "/plinth/config/actions.yaml", "action file (YAML or JSON)")
	fs.StringVar(&address, "grpc-address", ":9442", "TCP address of the mutual-TLS agent.v1 API")
	fs.StringVar(&tlsFiles.Cert, "tls-cert", "/plinth/tls/tls.crt", "server certificate (PEM), re-read when it changes")
	fs.StringVar(&tlsFiles.Key, "tls-key", "/plinth/tls/tls.key", "server private key (PEM)")
	fs.StringVar(&tlsFiles.CA, "tls-client-ca", "/plinth/tls/ca.crt", "CA bundle that signs client certificates (PEM)")
	fs.StringVar(&opts.ReportFile, "report-file", "/plinth/run/status.json", "the status agent's report file, for Status")
	fs.IntVar(&opts.MaxConcurrent, "max-concurrent", 4, "actions that may run at once")
	return cmd
}
