// Command plinth-procmgr runs one middleware process as PID 1 of its
// container: see docs/runtime.md.
//
//	plinth-procmgr [flags] -- redis-server /etc/redis/redis.conf
//	plinth-procmgr --config /plinth/config/process.yaml [flags]
//	plinth-procmgr copy --to /plinth/bin
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/plinth-io/plinth/internal/bincopy"
	"github.com/plinth-io/plinth/internal/cli"
	"github.com/plinth-io/plinth/internal/logging"
	"github.com/plinth-io/plinth/internal/mtls"
	"github.com/plinth-io/plinth/procmgr/internal/reaper"
	"github.com/plinth-io/plinth/procmgr/internal/run"
	"github.com/plinth-io/plinth/runtimeconfig"
)

func main() {
	os.Exit(cli.Execute(rootCommand()))
}

type flags struct {
	log          logging.Options
	config       string
	opts         run.Options
	tls          mtls.Files
	socketMode   uint32
	subreaper    bool
	holdPrimary  bool
	proc         runtimeconfig.Process
	grace        time.Duration
	policy       string
	reloadSignal string
}

func rootCommand() *cobra.Command {
	var f flags
	cmd := &cobra.Command{
		Use:   "plinth-procmgr [flags] [-- command args...]",
		Short: "Run one middleware process as PID 1: supervise, restart, reload, reap, serve procmgr.v1",
		Long: `plinth-procmgr runs the middleware process of a container and keeps it running:
it restarts it with an exponential backoff when it exits unexpectedly, keeps it
stopped after a Stop through the API (the container stays up, the Pod becomes
not ready), reaps every zombie, turns SIGTERM into a graceful stop within the
grace period, and SIGHUP or SIGUSR1 into a reload.

The process comes from --config (YAML or JSON, see docs/runtime.md) or from the
arguments after "--"; the flags below override the matching config fields.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := f.log.New()
			if err != nil {
				return err
			}
			p, err := f.process(cmd, args)
			if err != nil {
				return err
			}
			f.opts.Process = p
			f.opts.TLS = f.tls
			f.opts.SocketMode = os.FileMode(f.socketMode)
			f.opts.HoldPrimary = f.holdPrimary
			f.opts.ReapAll = os.Getpid() == 1
			if !f.opts.ReapAll && f.subreaper {
				if err := reaper.BecomeSubreaper(); err != nil {
					return fmt.Errorf("becoming a child subreaper: %w", err)
				}
				f.opts.ReapAll = true
			}
			log.Info("plinth-procmgr starting", "pid", os.Getpid(), "reapAll", f.opts.ReapAll, "command", p.Command)
			return run.Run(cmd.Context(), f.opts, log)
		},
	}
	fs := cmd.Flags()
	f.log.AddFlags(fs)
	fs.StringVar(&f.config, "config", "", "process file (YAML or JSON); the command after -- is used when empty")
	fs.StringVar(&f.opts.GRPCAddress, "grpc-address", ":9440", "TCP address of the mutual-TLS procmgr.v1 API (empty disables it)")
	fs.StringVar(&f.tls.Cert, "tls-cert", "/plinth/tls/tls.crt", "server certificate (PEM), re-read when it changes")
	fs.StringVar(&f.tls.Key, "tls-key", "/plinth/tls/tls.key", "server private key (PEM)")
	fs.StringVar(&f.tls.CA, "tls-client-ca", "/plinth/tls/ca.crt", "CA bundle that signs client certificates (PEM)")
	fs.StringVar(&f.opts.Socket, "socket", "/plinth/run/procmgr.sock", "Unix socket of the procmgr.v1 API for containers of the pod, no TLS (empty disables it)")
	fs.Uint32Var(&f.socketMode, "socket-mode", 0o660, "file mode of the Unix socket")
	fs.StringVar(&f.opts.HealthAddress, "health-address", ":9441", "address of /healthz and /readyz for the kubelet (empty disables it)")
	fs.BoolVar(&f.subreaper, "subreaper", true, "when not PID 1, become a child subreaper so orphans are reaped as PID 1 would")
	fs.BoolVar(&f.holdPrimary, "hold-primary", false, "start the process with hold_primary (it must not take the primary role)")
	fs.DurationVar(&f.grace, "grace-period", 0, "stop grace period before SIGKILL (overrides the config; default 30s)")
	fs.StringVar(&f.proc.StopSignal, "stop-signal", "", "stop signal (overrides the config; default TERM)")
	fs.StringVar(&f.reloadSignal, "reload-signal", "", "reload signal (overrides the config; default HUP)")
	fs.StringVar(&f.policy, "restart-policy", "", "Always, OnFailure or Never (overrides the config; default Always)")
	fs.StringVar(&f.proc.User, "user", "", "run the process as this user: name, uid or uid:gid (overrides the config)")
	fs.StringVar(&f.proc.WorkingDir, "workdir", "", "working directory of the process (overrides the config)")
	fs.StringVar(&f.proc.HoldPrimary.File, "hold-primary-file", "", "marker file that exists while hold_primary is in force (overrides the config)")
	fs.StringVar(&f.proc.StateFile, "state-file", "", "file that remembers Stop and hold_primary across container restarts (overrides the config)")
	cmd.AddCommand(copyCommand())
	return cmd
}

// process builds the process configuration from --config, the arguments
// and the overriding flags.
func (f *flags) process(cmd *cobra.Command, args []string) (*runtimeconfig.Process, error) {
	p := &runtimeconfig.Process{}
	if f.config != "" {
		if len(args) > 0 {
			return nil, errors.New("give the command either in --config or after --, not both")
		}
		loaded, err := runtimeconfig.LoadProcess(f.config)
		if err != nil {
			return nil, err
		}
		p = loaded
	} else {
		if len(args) == 0 {
			return nil, errors.New("no process: give --config or a command after --")
		}
		p.Command, p.Args = args[0], args[1:]
	}
	set := func(name string) bool { return cmd.Flags().Changed(name) }
	if set("grace-period") {
		p.GracePeriod = runtimeconfig.D(f.grace)
	}
	if set("stop-signal") {
		p.StopSignal = f.proc.StopSignal
	}
	if set("reload-signal") {
		p.Reload = runtimeconfig.Reload{Signal: f.reloadSignal, Timeout: p.Reload.Timeout}
	}
	if set("restart-policy") {
		p.Restart.Policy = f.policy
	}
	if set("user") {
		p.User = f.proc.User
	}
	if set("workdir") {
		p.WorkingDir = f.proc.WorkingDir
	}
	if set("hold-primary-file") {
		p.HoldPrimary.File = f.proc.HoldPrimary.File
	}
	if set("state-file") {
		p.StateFile = f.proc.StateFile
	}
	p.Default()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func copyCommand() *cobra.Command {
	var to, from string
	cmd := &cobra.Command{
		Use:   "copy --to DIR",
		Short: "Copy the Plinth in-pod binaries into DIR (an init container's job)",
		Long: `copy puts plinth-procmgr, plinth-status-agent and plinth-ops-agent from the
folder of this executable (or --from) into --to, usually an emptyDir mounted at
/plinth/bin that the middleware container mounts too.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				from = filepath.Dir(exe)
			}
			copied, err := bincopy.Copy(from, to, bincopy.Binaries)
			for _, c := range copied {
				fmt.Fprintln(cmd.OutOrStdout(), "copied", c)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&to, "to", "/plinth/bin", "destination folder")
	cmd.Flags().StringVar(&from, "from", "", "source folder (default: the folder of this executable)")
	return cmd
}
