package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	mwt "github.com/plinth-io/plinth/internal/middlewaretest"
	"github.com/plinth-io/plinth/procmgr/internal/reaper"
	"github.com/plinth-io/plinth/runtimeconfig"
)

const wait = 60 * time.Second

// run starts a supervisor for p in the background; cleanup stops it and
// waits until its process is gone.
func run(t *testing.T, p *runtimeconfig.Process, onChange func(Status)) *Supervisor {
	t.Helper()
	p.Default()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Config: p, Starter: reaper.Own{}, Log: testr.New(t), OnChange: onChange})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

func waitState(t *testing.T, s *Supervisor, want State, cond func(Status) bool) Status {
	t.Helper()
	var st Status
	mwt.Eventually(t, wait, fmt.Sprintf("process reaches %s", want), func() error {
		st = s.Status()
		if st.State != want || (cond != nil && !cond(st)) {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
	return st
}

// waitFile waits until path exists: a shell script creates it once its
// traps are installed.
func waitFile(t *testing.T, path string) {
	t.Helper()
	mwt.Eventually(t, wait, "file "+path, func() error {
		_, err := os.Stat(path)
		return err
	})
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func redisProcess(t *testing.T) (*runtimeconfig.Process, int) {
	mwt.Need(t, "redis-server")
	port := mwt.FreePort(t)
	return &runtimeconfig.Process{
		Command:     "redis-server",
		Args:        mwt.RedisArgs(port, t.TempDir()),
		GracePeriod: runtimeconfig.D(20 * time.Second),
		Restart:     runtimeconfig.RestartPolicy{InitialBackoff: runtimeconfig.D(100 * time.Millisecond), MaxBackoff: runtimeconfig.D(time.Second)},
	}, port
}

func TestKill9IsFollowedByAutomaticRestart(t *testing.T) {
	p, port := redisProcess(t)
	s := run(t, p, nil)
	c := mwt.RedisClient(t, port)
	first := waitState(t, s, StateRunning, nil)
	mwt.Eventually(t, wait, "redis answers", func() error { return mwt.Ping(context.Background(), c) })

	if err := syscall.Kill(first.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	second := waitState(t, s, StateRunning, func(st Status) bool { return st.Pid != first.Pid })
	mwt.Eventually(t, wait, "restarted redis answers", func() error { return mwt.Ping(context.Background(), c) })
	if second.RestartCount != 1 || second.LastExitSignal != "KILL" || second.LastExitCode != -1 {
		t.Errorf("after kill -9: %+v, want RestartCount 1, LastExitSignal KILL, LastExitCode -1", second)
	}
}

func TestStopKeepsTheProcessStoppedUntilStart(t *testing.T) {
	p, port := redisProcess(t)
	p.StateFile = filepath.Join(t.TempDir(), "state.json")
	s := run(t, p, nil)
	first := waitState(t, s, StateRunning, nil)

	st, err := s.Stop(context.Background(), 0)
	if err != nil || st.State != StateStopped || st.Ready() {
		t.Fatalf("Stop = %+v, %v", st, err)
	}
	if alive(first.Pid) {
		t.Fatalf("redis (pid %d) still runs after Stop", first.Pid)
	}
	// Longer than the restart backoff: nothing restarts it.
	time.Sleep(3 * p.Restart.MaxBackoff.Duration)
	if st := s.Status(); st.State != StateStopped || st.Pid != 0 {
		t.Fatalf("after Stop the process came back: %+v", st)
	}
	if err := mwt.Ping(context.Background(), mwt.RedisClient(t, port)); err == nil {
		t.Fatal("redis answers after Stop")
	}
	if _, err := s.Reload(context.Background()); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Reload while stopped = %v, want ErrNotRunning", err)
	}

	// A new procmgr (container restart) with the same state file stays stopped.
	p2 := *p
	p2.Args = mwt.RedisArgs(mwt.FreePort(t), t.TempDir())
	s2 := run(t, &p2, nil)
	time.Sleep(500 * time.Millisecond)
	if st := s2.Status(); st.State != StateStopped || st.Pid != 0 {
		t.Fatalf("a new supervisor with the state file started the process: %+v", st)
	}

	// Restart of a stopped process starts it and forgets the Stop.
	if st, err := s2.Restart(context.Background(), 0); err != nil || st.State != StateRunning {
		t.Fatalf("Restart of a stopped process = %+v, %v", st, err)
	}
	if b, _ := os.ReadFile(p.StateFile); !strings.Contains(string(b), `"stopped":false`) {
		t.Errorf("state file after Restart: %s", b)
	}
	if _, err := s2.Stop(context.Background(), 0); err != nil {
		t.Fatal(err)
	}

	st, err = s.Start(context.Background(), false)
	if err != nil || st.State != StateRunning || st.Pid == first.Pid {
		t.Fatalf("Start = %+v, %v", st, err)
	}
	mwt.Eventually(t, wait, "redis answers after Start", func() error { return mwt.Ping(context.Background(), mwt.RedisClient(t, port)) })
}

func TestCrashLoopBacksOff(t *testing.T) {
	var mu sync.Mutex
	var seen []Status
	p := &runtimeconfig.Process{
		Command: "sh", Args: []string{"-c", "exit 3"},
		Restart: runtimeconfig.RestartPolicy{InitialBackoff: runtimeconfig.D(100 * time.Millisecond), MaxBackoff: runtimeconfig.D(800 * time.Millisecond)},
	}
	s := run(t, p, func(st Status) { mu.Lock(); seen = append(seen, st); mu.Unlock() })
	mwt.Eventually(t, wait, "six restarts", func() error {
		if n := s.Status().RestartCount; n < 6 {
			return fmt.Errorf("restart count %d", n)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	var delays []time.Duration
	var starts []time.Time
	var prev State
	for _, st := range seen {
		if st.State == StateBackoff && prev != StateBackoff {
			delays = append(delays, st.Backoff)
		}
		prev = st.State
		if st.State == StateRunning && (len(starts) == 0 || !st.StartTime.Equal(starts[len(starts)-1])) {
			starts = append(starts, st.StartTime)
		}
	}
	want := []time.Duration{100, 200, 400, 800, 800, 800}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if len(delays) < len(want) {
		t.Fatalf("backoffs %v, want at least %v", delays, want)
	}
	for i, w := range want {
		if delays[i] != w {
			t.Errorf("backoff %d = %s, want %s (all: %v)", i, delays[i], w, delays[:len(want)])
		}
	}
	// Each restart came no sooner than its backoff (timers never fire early).
	for i := 1; i < len(starts) && i <= len(want); i++ {
		if gap := starts[i].Sub(starts[i-1]); gap < delays[i-1] {
			t.Errorf("restart %d came %s after the previous start, before its backoff %s", i, gap, delays[i-1])
		}
	}
	// Every backoff reports the exit that caused it. (Read from the recorded
	// statuses: by now the process may be running again, which clears the
	// last exit's message.)
	backoffs := 0
	for _, st := range seen {
		if st.State != StateBackoff {
			continue
		}
		backoffs++
		if st.LastExitCode != 3 || !strings.Contains(st.Message, "code 3") {
			t.Errorf("status in backoff: %+v", st)
		}
	}
	if backoffs == 0 {
		t.Error("no status in backoff was recorded")
	}
}

func TestRestartPolicyNeverAndOnFailure(t *testing.T) {
	s := run(t, &runtimeconfig.Process{Command: "sh", Args: []string{"-c", "exit 0"}, Restart: runtimeconfig.RestartPolicy{Policy: runtimeconfig.RestartOnFailure}}, nil)
	st := waitState(t, s, StateExited, nil)
	if st.LastExitCode != 0 || st.RestartCount != 0 {
		t.Errorf("OnFailure after a clean exit: %+v", st)
	}
	s = run(t, &runtimeconfig.Process{Command: "sh", Args: []string{"-c", "exit 1"}, Restart: runtimeconfig.RestartPolicy{Policy: runtimeconfig.RestartNever}}, nil)
	if st := waitState(t, s, StateExited, nil); st.LastExitCode != 1 {
		t.Errorf("Never after exit 1: %+v", st)
	}
	// Start brings an exited process back.
	if st, err := s.Start(context.Background(), false); err != nil || st.RestartCount != 1 {
		t.Errorf("Start after exit = %+v, %v", st, err)
	}
}

func TestMissingCommandBacksOffInsteadOfFailing(t *testing.T) {
	s := run(t, &runtimeconfig.Process{Command: "/nonexistent/plinth-test-binary"}, nil)
	st := waitState(t, s, StateBackoff, nil)
	if !strings.Contains(st.Message, "could not start") {
		t.Errorf("message %q", st.Message)
	}
}

func TestHoldPrimaryReachesTheProcess(t *testing.T) {
	dir := t.TempDir()
	out, marker := filepath.Join(dir, "env"), filepath.Join(dir, "hold")
	p := &runtimeconfig.Process{
		Command:     "sh",
		Args:        []string{"-c", `echo "$PLINTH_HOLD_PRIMARY" > ` + out + `; exec sleep 1000`},
		HoldPrimary: runtimeconfig.HoldPrimary{File: marker},
		GracePeriod: runtimeconfig.D(5 * time.Second),
	}
	s := run(t, p, nil)
	waitState(t, s, StateRunning, nil)
	readEnv := func(want string) {
		t.Helper()
		mwt.Eventually(t, wait, "the process wrote its environment", func() error {
			b, _ := os.ReadFile(out)
			if strings.TrimSpace(string(b)) != want {
				return fmt.Errorf("PLINTH_HOLD_PRIMARY=%q, want %q", b, want)
			}
			return nil
		})
	}
	readEnv("false")
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("marker file exists without hold_primary: %v", err)
	}
	if _, err := s.Start(context.Background(), true); !errors.Is(err, ErrHoldPrimaryConflict) {
		t.Errorf("Start(hold) while running without hold = %v, want ErrHoldPrimaryConflict", err)
	}
	if _, err := s.Stop(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(out)
	st, err := s.Start(context.Background(), true)
	if err != nil || !st.HoldPrimary {
		t.Fatalf("Start(hold) = %+v, %v", st, err)
	}
	readEnv("true")
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("marker file missing with hold_primary: %v", err)
	}
	// An automatic restart keeps holding.
	_ = os.Remove(out)
	_ = syscall.Kill(st.Pid, syscall.SIGKILL)
	waitState(t, s, StateRunning, func(n Status) bool { return n.Pid != st.Pid })
	readEnv("true")
}

func TestStopEscalatesToSIGKILLAfterTheGracePeriod(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready")
	p := &runtimeconfig.Process{
		Command:     "sh",
		Args:        []string{"-c", `trap "" TERM; : >` + ready + `; while :; do sleep 0.1; done`},
		GracePeriod: runtimeconfig.D(time.Second),
	}
	s := run(t, p, nil)
	first := waitState(t, s, StateRunning, nil)
	waitFile(t, ready) // the shell installed its trap
	st, err := s.Stop(context.Background(), 0)
	if err != nil || st.State != StateStopped || st.LastExitSignal != "KILL" {
		t.Fatalf("Stop of a process ignoring TERM = %+v, %v; want Stopped, killed", st, err)
	}
	if alive(first.Pid) {
		t.Fatal("process still alive")
	}
}

func TestReloadCommandKeepsThePID(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "reloaded")
	p := &runtimeconfig.Process{
		Command: "sleep", Args: []string{"1000"},
		Reload:      runtimeconfig.Reload{Command: []string{"sh", "-c", `echo "$PLINTH_PID" > ` + out}},
		GracePeriod: runtimeconfig.D(5 * time.Second),
	}
	s := run(t, p, nil)
	st := waitState(t, s, StateRunning, nil)
	if _, err := s.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil || strings.TrimSpace(string(b)) != fmt.Sprint(st.Pid) {
		t.Fatalf("reload command saw PLINTH_PID %q (%v), want %d", b, err, st.Pid)
	}
	if now := s.Status(); now.Pid != st.Pid || now.RestartCount != 0 {
		t.Errorf("reload changed the process: %+v", now)
	}
	p.Reload.Command = []string{"sh", "-c", "exit 4"}
	if _, err := s.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "exit code 4") {
		t.Errorf("failing reload command: %v", err)
	}
}

// TestPostgresReloadChangesADynamicParameter edits postgresql.conf and
// reloads with the reload signal (SIGHUP): the setting changes, the
// postmaster keeps its PID.
func TestPostgresReloadChangesADynamicParameter(t *testing.T) {
	pg := mwt.InitPostgres(t)
	p := &runtimeconfig.Process{
		Command: filepath.Join(mwt.PostgresBin, "postgres"), Args: pg.Args(), User: pg.User,
		StopSignal: "INT", GracePeriod: runtimeconfig.D(30 * time.Second),
		Reload: runtimeconfig.Reload{Signal: "HUP"},
	}
	s := run(t, p, nil)
	st := waitState(t, s, StateRunning, nil)
	pg.WaitReady(t)
	before, err := pg.Query(context.Background(), "show log_min_duration_statement")
	if err != nil || before != "-1" {
		t.Fatalf("log_min_duration_statement before = %q, %v", before, err)
	}
	f, err := os.OpenFile(filepath.Join(pg.Dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("\nlog_min_duration_statement = 250\n")
	_ = f.Close()
	if _, err := s.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	mwt.Eventually(t, wait, "the new setting is live", func() error {
		v, err := pg.Query(context.Background(), "show log_min_duration_statement")
		if err != nil || v != "250ms" {
			return fmt.Errorf("log_min_duration_statement = %q, %v", v, err)
		}
		return nil
	})
	if now := s.Status(); now.Pid != st.Pid || now.RestartCount != 0 {
		t.Errorf("reload restarted postgres: %+v (was pid %d)", now, st.Pid)
	}
	// A graceful stop of postgres (SIGINT, fast shutdown) within the grace.
	if st, err := s.Stop(context.Background(), 0); err != nil || st.LastExitCode != 0 {
		t.Errorf("Stop = %+v, %v", st, err)
	}
}

func TestSignalReachesTheProcess(t *testing.T) {
	out := filepath.Join(t.TempDir(), "got")
	ready := filepath.Join(t.TempDir(), "ready")
	s := run(t, &runtimeconfig.Process{
		Command:     "sh",
		Args:        []string{"-c", `trap "echo USR2 > ` + out + `" USR2; : >` + ready + `; while :; do sleep 0.1; done`},
		GracePeriod: runtimeconfig.D(2 * time.Second),
	}, nil)
	st := waitState(t, s, StateRunning, nil)
	waitFile(t, ready) // the shell installed its trap
	if _, err := s.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	mwt.Eventually(t, wait, "the trap ran", func() error {
		b, err := os.ReadFile(out)
		if err != nil || strings.TrimSpace(string(b)) != "USR2" {
			return fmt.Errorf("%q, %v", b, err)
		}
		return nil
	})
	if now := s.Status(); now.Pid != st.Pid || now.State != StateRunning {
		t.Errorf("after a signal: %+v", now)
	}
}
