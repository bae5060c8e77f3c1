// Package run wires plinth-procmgr together: the reaper, the supervisor, the
// gRPC servers (mutual TLS on TCP, plain on a Unix socket), the health
// endpoint and the signal forwarding. Each piece is its own package; this one
// only starts them and stops them in order.
package run

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"google.golang.org/grpc"

	procmgrv1 "github.com/plinth-io/plinth/proto/gen/procmgr/v1"

	"github.com/plinth-io/plinth/internal/mtls"
	"github.com/plinth-io/plinth/procmgr/internal/health"
	"github.com/plinth-io/plinth/procmgr/internal/reaper"
	"github.com/plinth-io/plinth/procmgr/internal/server"
	"github.com/plinth-io/plinth/procmgr/internal/supervisor"
	"github.com/plinth-io/plinth/runtimeconfig"
)

// Options configure a procmgr run.
type Options struct {
	Process *runtimeconfig.Process
	// GRPCAddress is the mutual-TLS TCP listener ("" disables it).
	GRPCAddress string
	TLS         mtls.Files
	// Socket is the Unix socket path ("" disables it); SocketMode its mode.
	Socket     string
	SocketMode os.FileMode
	// HealthAddress serves /healthz and /readyz ("" disables it).
	HealthAddress string
	// ReapAll waits for every child (PID 1 or subreaper); otherwise only for
	// the processes procmgr starts.
	ReapAll bool
	// HoldPrimary makes the first start hold the primary role.
	HoldPrimary bool
}

// Run runs until ctx ends (SIGTERM), then stops the process within its
// grace period and returns.
func Run(ctx context.Context, o Options, log logr.Logger) error {
	var starter reaper.Starter = reaper.Own{}
	var wg sync.WaitGroup
	bg, stopBG := context.WithCancel(context.Background())
	defer func() { stopBG(); wg.Wait() }()
	if o.ReapAll {
		all := reaper.NewAll(log.WithName("reaper"))
		starter = all
		wg.Go(func() { _ = all.Run(bg) })
	}
	sup, err := supervisor.New(supervisor.Options{Config: o.Process, Starter: starter, Log: log.WithName("supervisor")})
	if err != nil {
		return err
	}
	sup.SetInitialHoldPrimary(o.HoldPrimary)
	svc := server.New(sup, log.WithName("grpc"))

	var servers []*grpc.Server
	if o.GRPCAddress != "" {
		store, err := mtls.NewStore(o.TLS)
		if err != nil {
			return fmt.Errorf("gRPC TLS files: %w", err)
		}
		lis, err := net.Listen("tcp", o.GRPCAddress)
		if err != nil {
			return err
		}
		gs := grpc.NewServer(mtls.ServerOptions(store)...)
		procmgrv1.RegisterProcessManagerServiceServer(gs, svc)
		servers = append(servers, gs)
		log.Info("serving procmgr.v1 with mutual TLS", "address", lis.Addr().String())
		wg.Go(func() { _ = gs.Serve(lis) })
	}
	if o.Socket != "" {
		lis, err := listenUnix(o.Socket, o.SocketMode)
		if err != nil {
			return err
		}
		gs := grpc.NewServer()
		procmgrv1.RegisterProcessManagerServiceServer(gs, svc)
		servers = append(servers, gs)
		log.Info("serving procmgr.v1 on the pod-local Unix socket", "socket", o.Socket)
		wg.Go(func() { _ = gs.Serve(lis) })
	}
	defer func() {
		for _, gs := range servers {
			gs.Stop()
		}
	}()
	if o.HealthAddress != "" {
		lis, err := net.Listen("tcp", o.HealthAddress)
		if err != nil {
			return err
		}
		hs := &http.Server{Handler: health.Handler(func() (bool, string) {
			st := sup.Status()
			return st.Ready(), fmt.Sprintf("%s %s", st.State, st.Message)
		}), ReadHeaderTimeout: 5 * time.Second}
		log.Info("serving the health endpoint", "address", lis.Addr().String())
		wg.Go(func() { _ = hs.Serve(lis) })
		defer hs.Close()
	}

	// SIGHUP and SIGUSR1 reload the process (SIGTERM and SIGINT end ctx).
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	wg.Go(func() {
		for {
			select {
			case <-bg.Done():
				return
			case sig := <-sigs:
				log.Info("received a reload signal; reloading the process", "signal", sig.String())
				rctx, cancel := context.WithTimeout(bg, o.Process.Reload.Timeout.Duration+5*time.Second)
				if _, err := sup.Reload(rctx); err != nil {
					log.Error(err, "reload failed")
				}
				cancel()
			}
		}
	})

	err = sup.Run(ctx)
	log.Info("procmgr is exiting", "lastState", sup.Status().State)
	return err
}

func listenUnix(path string, mode os.FileMode) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	// A socket left by a previous procmgr of this container is replaced;
	// anything else at the path is not ours to remove.
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing the stale socket %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if mode == 0 {
		mode = 0o660
	}
	// The socket gets its mode before it is reachable: it is bound in a
	// private directory (0700) next to path, chmod'ed there and renamed
	// into place. Bound at path and chmod'ed afterwards, it would be
	// reachable with the umask's mode in between.
	dir, err := os.MkdirTemp(filepath.Dir(path), ".procmgr-sock-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	lis, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, err
	}
	ul := lis.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, mode); err != nil {
		ul.Close()
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		ul.Close()
		return nil, err
	}
	return &unixListener{UnixListener: ul, path: path}, nil
}

// unixListener removes its socket file when closed, as a listener bound at
// the path itself would.
type unixListener struct {
	*net.UnixListener
	path string
	once sync.Once
}

func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() { _ = os.Remove(l.path) })
	return err
}
