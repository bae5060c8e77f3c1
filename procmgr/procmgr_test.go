package main

// These tests build plinth-procmgr and run it as a separate process, the way
// a container runs it: signals, orphans and the gRPC listeners are those of
// the real binary.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	procmgrv1 "github.com/plinth-io/plinth/proto/gen/procmgr/v1"

	"github.com/plinth-io/plinth/internal/middlewaretest"
	"github.com/plinth-io/plinth/internal/mtls"
	"github.com/plinth-io/plinth/internal/mtls/mtlstest"
)

const wait = 60 * time.Second

var binary string

func TestMain(m *testing.M) {
	bin, remove, err := middlewaretest.Build(".", "plinth-procmgr")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = bin
	code := m.Run()
	remove()
	os.Exit(code)
}

// procmgr is a running plinth-procmgr.
type procmgr struct {
	cmd    *exec.Cmd
	socket string
	health string
	grpc   string
	done   chan struct{}
	err    error
}

// start runs plinth-procmgr with flags; cleanup stops it with SIGTERM (so it
// stops its process, which lives in its own process group) and falls back to
// SIGKILL.
func start(t *testing.T, flags ...string) *procmgr {
	t.Helper()
	dir := t.TempDir()
	p := &procmgr{socket: filepath.Join(dir, "procmgr.sock"), health: fmt.Sprintf("127.0.0.1:%d", middlewaretest.FreePort(t)), done: make(chan struct{})}
	args := []string{"--socket", p.socket, "--health-address", p.health, "--log-format", "console"}
	if !hasFlag(flags, "--grpc-address") {
		args = append(args, "--grpc-address", "")
	}
	p.cmd = exec.Command(binary, append(args, flags...)...)
	p.cmd.Stdout, p.cmd.Stderr = os.Stderr, os.Stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(wait):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	})
	return p
}

func hasFlag(flags []string, name string) bool {
	for _, f := range flags {
		if f == name || strings.HasPrefix(f, name+"=") {
			return true
		}
	}
	return false
}

// unixClient dials the pod-local socket.
func (p *procmgr) unixClient(t *testing.T) procmgrv1.ProcessManagerServiceClient {
	t.Helper()
	middlewaretest.Eventually(t, wait, "the socket exists", func() error { _, err := os.Stat(p.socket); return err })
	conn, err := grpc.NewClient("unix://"+p.socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return procmgrv1.NewProcessManagerServiceClient(conn)
}

func running(t *testing.T, c procmgrv1.ProcessManagerServiceClient, cond func(*procmgrv1.ProcessStatus) bool) *procmgrv1.ProcessStatus {
	t.Helper()
	var st *procmgrv1.ProcessStatus
	middlewaretest.Eventually(t, wait, "the process runs", func() error {
		r, err := c.Status(context.Background(), &procmgrv1.StatusRequest{})
		if err != nil {
			return err
		}
		st = r.GetStatus()
		if st.GetState() != procmgrv1.ProcessState_PROCESS_STATE_RUNNING || (cond != nil && !cond(st)) {
			return fmt.Errorf("status %v", st)
		}
		return nil
	})
	return st
}

func (p *procmgr) probe(path string) (int, error) {
	resp, err := http.Get("http://" + p.health + path)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func (p *procmgr) exited(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("plinth-procmgr did not exit within %s", within)
	}
}

func alive(pid int32) bool { return syscall.Kill(int(pid), 0) == nil }

// TestRestartKeepsProcmgrAndDataDirectory restarts redis through the API:
// procmgr (the container's PID 1) stays, redis gets a new PID and finds its
// data again. Stop keeps the container alive and not ready.
func TestRestartKeepsProcmgrAndDataDirectory(t *testing.T) {
	middlewaretest.Need(t, "redis-server")
	port, data := middlewaretest.FreePort(t), t.TempDir()
	p := start(t, append([]string{"--grace-period", "20s", "--"}, append([]string{"redis-server"}, middlewaretest.RedisArgs(port, data, "--appendonly", "yes")...)...)...)
	c := p.unixClient(t)
	first := running(t, c, nil)
	rc := middlewaretest.RedisClient(t, port)
	ctx := context.Background()
	middlewaretest.Eventually(t, wait, "redis answers", func() error { return rc.Set(ctx, "plinth", "kept", 0).Err() })
	middlewaretest.Eventually(t, wait, "ready", func() error {
		if code, err := p.probe("/readyz"); err != nil || code != 200 {
			return fmt.Errorf("readyz %d %v", code, err)
		}
		return nil
	})

	r, err := c.Restart(ctx, &procmgrv1.RestartRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if st := r.GetStatus(); st.GetPid() == first.GetPid() || st.GetRestartCount() != 1 || alive(first.GetPid()) {
		t.Fatalf("after Restart: %v (first pid %d)", st, first.GetPid())
	}
	middlewaretest.Eventually(t, wait, "redis has its data again", func() error {
		v, err := rc.Get(ctx, "plinth").Result()
		if err != nil || v != "kept" {
			return fmt.Errorf("GET plinth = %q, %v", v, err)
		}
		dir, err := rc.ConfigGet(ctx, "dir").Result()
		if err != nil || dir["dir"] != data {
			return fmt.Errorf("CONFIG GET dir = %v, %v; want %s", dir, err, data)
		}
		return nil
	})
	select {
	case <-p.done:
		t.Fatalf("plinth-procmgr exited during a restart: %v", p.err)
	default:
	}

	// Stop: the container (procmgr) stays, liveness passes, readiness fails.
	if _, err := c.Stop(ctx, &procmgrv1.StopRequest{}); err != nil {
		t.Fatal(err)
	}
	if code, err := p.probe("/readyz"); err != nil || code != http.StatusServiceUnavailable {
		t.Errorf("readyz after Stop = %d, %v; want 503", code, err)
	}
	if code, err := p.probe("/healthz"); err != nil || code != 200 {
		t.Errorf("healthz after Stop = %d, %v; want 200", code, err)
	}
	if _, err := c.Reload(ctx, &procmgrv1.ReloadRequest{}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("Reload while stopped: %v, want FailedPrecondition", err)
	}
	if _, err := c.Signal(ctx, &procmgrv1.SignalRequest{Signal: "SEGV"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("Signal SEGV: %v, want InvalidArgument", err)
	}
	if _, err := c.Stop(ctx, &procmgrv1.StopRequest{GracePeriodSeconds: -1}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("Stop with a negative grace period: %v, want InvalidArgument", err)
	}
	if _, err := c.Start(ctx, &procmgrv1.StartRequest{}); err != nil {
		t.Fatal(err)
	}
	running(t, c, nil)
}

// TestSIGTERMStopsTheProcessWithinTheGracePeriod: SIGTERM to procmgr stops
// the process gracefully and procmgr exits 0; a process that ignores its
// stop signal is killed when the grace period is over.
func TestSIGTERMStopsTheProcessWithinTheGracePeriod(t *testing.T) {
	for _, tc := range []struct{ name, script string }{
		{"graceful", `trap "exit 0" TERM; : >"$READY"; while :; do sleep 0.1; done`},
		{"ignores TERM", `trap "" TERM; : >"$READY"; while :; do sleep 0.1; done`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ready := filepath.Join(t.TempDir(), "ready")
			p := start(t, "--grace-period", "2s", "--", "sh", "-c", `READY=`+ready+`; `+tc.script)
			st := running(t, p.unixClient(t), nil)
			middlewaretest.Eventually(t, wait, "the shell installed its trap", func() error { _, err := os.Stat(ready); return err })
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			// A bound against hanging, far above the 2s grace period: without
			// the SIGKILL escalation, "ignores TERM" would never end.
			p.exited(t, 30*time.Second)
			if p.err != nil {
				t.Errorf("plinth-procmgr exit: %v, want 0", p.err)
			}
			if alive(st.GetPid()) {
				t.Errorf("the process %d survived", st.GetPid())
			}
		})
	}
}

// TestOrphansAreReaped: a grandchild orphaned by its parent is re-parented to
// procmgr (subreaper, as PID 1 in a container) and reaped when it exits.
func TestOrphansAreReaped(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "orphan.pid")
	// The inner shell starts "sleep 2" in the background and exits at once:
	// sleep is orphaned. The main process lives on.
	script := fmt.Sprintf(`sh -c 'sleep 2 & echo $! > %s'; exec sleep 1000`, pidFile)
	p := start(t, "--grace-period", "2s", "--", "sh", "-c", script)
	running(t, p.unixClient(t), nil)
	var orphan int
	middlewaretest.Eventually(t, wait, "the orphan's pid file", func() error {
		b, err := os.ReadFile(pidFile)
		if err == nil {
			orphan, err = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		return err
	})
	if ppid, state, err := procStat(orphan); err == nil {
		if ppid != p.cmd.Process.Pid {
			t.Errorf("orphan %d has parent %d, want procmgr %d", orphan, ppid, p.cmd.Process.Pid)
		}
		t.Logf("orphan %d: parent %d, state %s", orphan, ppid, state)
	}
	// Once sleep exits it must not stay a zombie.
	middlewaretest.Eventually(t, wait, "the orphan is reaped", func() error {
		if _, state, err := procStat(orphan); err == nil {
			return fmt.Errorf("orphan %d still exists in state %s", orphan, state)
		}
		return nil
	})
}

// procStat reads the parent and state of pid from /proc.
func procStat(pid int) (ppid int, state string, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", err
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ppid, _ = strconv.Atoi(fields[1])
	return ppid, fields[0], nil
}

// TestSIGHUPReloads: SIGHUP to procmgr runs the reload, not a restart.
func TestSIGHUPReloads(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "reloaded")
	cfg := filepath.Join(dir, "process.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
command: sleep
args: ["1000"]
gracePeriod: 2s
reload:
  command: [sh, -c, 'echo reloaded $PLINTH_PID >> %s']
`, out)), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, "--config", cfg)
	st := running(t, p.unixClient(t), nil)
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGUSR1} {
		if err := p.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
	middlewaretest.Eventually(t, wait, "both reloads ran", func() error {
		f, err := os.Open(out)
		if err != nil {
			return err
		}
		defer f.Close()
		n := 0
		for sc := bufio.NewScanner(f); sc.Scan(); n++ {
			if sc.Text() != fmt.Sprintf("reloaded %d", st.GetPid()) {
				return fmt.Errorf("line %q", sc.Text())
			}
		}
		if n != 2 {
			return fmt.Errorf("%d reloads", n)
		}
		return nil
	})
	if now := running(t, p.unixClient(t), nil); now.GetPid() != st.GetPid() {
		t.Errorf("reload changed the pid %d -> %d", st.GetPid(), now.GetPid())
	}
}

// TestMutualTLS: the TCP API refuses callers without a certificate of the
// configured CA (codes.Unauthenticated) and follows certificate rotation.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, other := mtlstest.NewCA(t, "plinth-app-ca"), mtlstest.NewCA(t, "another-ca")
	serverFiles := ca.Write(t, dir, "server", "procmgr", true, ca)
	goodClient := ca.Write(t, dir, "client", "plinth-controller", false, ca)
	strangerClient := other.Write(t, dir, "stranger", "plinth-controller", false, ca)
	addr := fmt.Sprintf("127.0.0.1:%d", middlewaretest.FreePort(t))
	p := start(t, "--grpc-address", addr, "--tls-cert", serverFiles.Cert, "--tls-key", serverFiles.Key, "--tls-client-ca", serverFiles.CA,
		"--", "sleep", "1000")
	running(t, p.unixClient(t), nil)

	call := func(opt grpc.DialOption) error {
		conn, err := grpc.NewClient(addr, opt)
		if err != nil {
			return err
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_, err = procmgrv1.NewProcessManagerServiceClient(conn).Stop(ctx, &procmgrv1.StopRequest{})
		return err
	}
	dial := func(f mtls.Files) grpc.DialOption {
		s, err := mtls.NewStore(f)
		if err != nil {
			t.Fatal(err)
		}
		return mtls.DialOption(s, "localhost")
	}
	// No client certificate at all.
	noCert := mtls.ClientConfig(mustStore(t, goodClient), "localhost")
	noCert.GetClientCertificate = nil
	if err := call(grpc.WithTransportCredentials(credentials.NewTLS(noCert))); status.Code(err) != codes.Unauthenticated {
		t.Errorf("no client certificate: %v, want Unauthenticated", err)
	}
	if err := call(dial(strangerClient)); status.Code(err) != codes.Unauthenticated {
		t.Errorf("client certificate of another CA: %v, want Unauthenticated", err)
	}
	if err := call(grpc.WithTransportCredentials(insecure.NewCredentials())); err == nil {
		t.Error("a plaintext call succeeded")
	}
	running(t, p.unixClient(t), nil) // none of them stopped it
	if err := call(dial(goodClient)); err != nil {
		t.Fatalf("valid client: %v", err)
	}

	// Rotation: a new CA and server certificate replace the files; the old
	// client is refused, a client of the new CA accepted, without a restart.
	ca2 := mtlstest.NewCA(t, "plinth-app-ca-2")
	ca2.Write(t, dir, "server", "procmgr", true, ca2)
	newClient := ca2.Write(t, dir, "client2", "plinth-controller", false, ca2)
	middlewaretest.Eventually(t, wait, "the rotated CA is in force", func() error {
		if err := call(dial(goodClient)); status.Code(err) != codes.Unauthenticated && status.Code(err) != codes.Unavailable {
			return fmt.Errorf("old client: %v", err)
		}
		return call(dial(newClient))
	})
}

func mustStore(t *testing.T, f mtls.Files) *mtls.Store {
	s, err := mtls.NewStore(f)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBadInvocations(t *testing.T) {
	notASocket := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notASocket, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if b, err := os.ReadFile(notASocket); err != nil || string(b) != "keep me" {
			t.Errorf("procmgr touched a file at its socket path: %q, %v", b, err)
		}
	}()
	for name, args := range map[string][]string{
		"no command":       {"--grpc-address", ""},
		"bad policy":       {"--grpc-address", "", "--restart-policy", "Maybe", "--", "true"},
		"missing tls file": {"--grpc-address", "127.0.0.1:0", "--tls-cert", "/nonexistent", "--", "true"},
		"config and args":  {"--grpc-address", "", "--config", "/nonexistent", "--", "true"},
		"socket not ours":  {"--grpc-address", "", "--socket", notASocket, "--", "true"},
	} {
		out, err := exec.Command(binary, append([]string{"--socket", "", "--health-address", "", "--grace-period", "1s"}, args...)...).CombinedOutput()
		if err == nil {
			t.Errorf("%s: plinth-procmgr %v succeeded:\n%s", name, args, out)
		}
	}
}
