// Package supervisor runs the one middleware process of a container: it
// starts it, stops it (stop signal, then SIGKILL of its process group after
// the grace period), restarts it when it exits unexpectedly with an
// exponential backoff, keeps it stopped after a Stop until Start, reloads it,
// and reports its state.
//
// A single goroutine (Run) owns the process; the other methods send it
// requests and wait for the answer, so there are no races on the state.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sys/unix"

	"github.com/plinth-io/plinth/procmgr/internal/reaper"
	"github.com/plinth-io/plinth/runtimeconfig"
)

// ErrNotRunning is returned by Reload and Signal when there is no process.
var ErrNotRunning = errors.New("the process is not running")

// ErrBusy is returned when a request conflicts with one in progress.
var ErrBusy = errors.New("the process is being stopped; try again")

// ErrHoldPrimaryConflict is returned by Start when the process runs with the
// other hold_primary setting.
var ErrHoldPrimaryConflict = errors.New("the process is running with a different hold_primary: Restart or Stop then Start it")

// Options wire a Supervisor.
type Options struct {
	Config *runtimeconfig.Process
	// Starter starts the process and reports its exit (reaper.All as PID 1).
	Starter reaper.Starter
	Log     logr.Logger
	// OnChange, if set, is called from the supervisor's goroutine with every
	// new status. It must not block.
	OnChange func(Status)
}

// Supervisor manages one process. Create with New, then call Run.
type Supervisor struct {
	cfg      *runtimeconfig.Process
	starter  reaper.Starter
	log      logr.Logger
	onChange func(Status)
	stopSig  syscall.Signal

	reqs chan request

	mu sync.RWMutex
	st Status

	// Owned by Run.
	exitCh    <-chan reaper.Exit
	started   time.Time
	failures  int
	backoff   *time.Timer
	kill      *time.Timer
	stopWait  []request // Stop and Restart requests waiting for the exit
	restartOn bool      // start again once stopped (Restart)
}

type kind int

const (
	kindStart kind = iota
	kindStop
	kindRestart
)

type request struct {
	kind        kind
	holdPrimary bool
	grace       time.Duration
	reply       chan reply
}

type reply struct {
	st  Status
	err error
}

// persisted is the state file: what survives a container restart.
type persisted struct {
	Stopped     bool `json:"stopped"`
	HoldPrimary bool `json:"holdPrimary"`
}

// New makes a Supervisor for a defaulted and validated configuration.
func New(o Options) (*Supervisor, error) {
	if o.Config == nil || o.Starter == nil {
		return nil, errors.New("supervisor: Config and Starter are required")
	}
	sig, err := runtimeconfig.ParseSignal(o.Config.StopSignal)
	if err != nil {
		return nil, err
	}
	s := &Supervisor{
		cfg: o.Config, starter: o.Starter, log: o.Log, onChange: o.OnChange, stopSig: sig,
		reqs: make(chan request),
	}
	s.st.State = StateStopped
	return s, nil
}

// Status returns the current status.
func (s *Supervisor) Status() Status {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st
}

func (s *Supervisor) set(f func(*Status)) {
	s.mu.Lock()
	f(&s.st)
	st := s.st
	s.mu.Unlock()
	if s.onChange != nil {
		s.onChange(st)
	}
}

// Run starts the process (unless the state file says it was stopped) and
// manages it until ctx ends; then it stops the process within the grace
// period and returns.
func (s *Supervisor) Run(ctx context.Context) error {
	p := s.loadState()
	if p.Stopped {
		s.log.Info("not starting the process: it was stopped through the API before this container started; call Start", "stateFile", s.cfg.StateFile)
		s.set(func(st *Status) {
			st.State, st.HoldPrimary = StateStopped, p.HoldPrimary
			st.Message = "stopped through the API (state file); call Start"
		})
	} else {
		s.set(func(st *Status) { st.HoldPrimary = p.HoldPrimary || st.HoldPrimary })
		s.start()
	}
	for {
		select {
		case <-ctx.Done():
			s.shutdown()
			return nil
		case r := <-s.reqs:
			s.handle(r)
		case ex := <-s.exitCh:
			s.exited(ex)
		case <-timerC(s.backoff):
			s.backoff = nil
			s.log.Info("restarting the process after its backoff", "restartCount", s.Status().RestartCount+1)
			s.set(func(st *Status) { st.RestartCount++ })
			s.start()
		case <-timerC(s.kill):
			s.kill = nil
			s.killGroup("the grace period is over")
		}
	}
}

func timerC(t *time.Timer) <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.C
}

// SetInitialHoldPrimary makes the first start (before Run) hold the primary
// role, for example when the data directory was found empty.
func (s *Supervisor) SetInitialHoldPrimary(hold bool) {
	s.set(func(st *Status) { st.HoldPrimary = hold })
}

// Start starts a stopped, exited or backing-off process now.
func (s *Supervisor) Start(ctx context.Context, holdPrimary bool) (Status, error) {
	return s.call(ctx, request{kind: kindStart, holdPrimary: holdPrimary})
}

// Stop stops the process and keeps it stopped until Start. grace 0 uses the
// configured grace period. It returns once the process has exited.
func (s *Supervisor) Stop(ctx context.Context, grace time.Duration) (Status, error) {
	return s.call(ctx, request{kind: kindStop, grace: grace})
}

// Restart stops the process (if running) and starts it again, keeping
// hold_primary. It returns once the new process has started.
func (s *Supervisor) Restart(ctx context.Context, grace time.Duration) (Status, error) {
	return s.call(ctx, request{kind: kindRestart, grace: grace})
}

func (s *Supervisor) call(ctx context.Context, r request) (Status, error) {
	r.reply = make(chan reply, 1)
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		return s.Status(), ctx.Err()
	}
	select {
	case rep := <-r.reply:
		return rep.st, rep.err
	case <-ctx.Done():
		// The request carries on; the caller stops waiting.
		return s.Status(), ctx.Err()
	}
}

func (s *Supervisor) handle(r request) {
	st := s.Status()
	switch r.kind {
	case kindStart:
		switch st.State {
		case StateRunning, StateStarting:
			if st.HoldPrimary != r.holdPrimary {
				r.reply <- reply{st, ErrHoldPrimaryConflict}
				return
			}
			r.reply <- reply{st, nil}
		case StateStopping:
			r.reply <- reply{st, ErrBusy}
		default:
			s.log.Info("starting the process on request", "holdPrimary", r.holdPrimary, "previousState", st.State)
			s.cancelBackoff()
			s.failures = 0
			s.set(func(st *Status) { st.HoldPrimary = r.holdPrimary })
			s.saveState(false, r.holdPrimary)
			if !st.StartTime.IsZero() {
				s.set(func(st *Status) { st.RestartCount++ })
			}
			s.start()
			r.reply <- reply{s.Status(), nil}
		}
	case kindStop, kindRestart:
		restart := r.kind == kindRestart
		switch st.State {
		case StateRunning, StateStarting:
			s.stopWait = append(s.stopWait, r)
			s.restartOn = s.restartOn || restart
			if !restart {
				s.saveState(true, st.HoldPrimary)
			}
			s.beginStop(r.grace, map[bool]string{true: "restart requested", false: "stop requested"}[restart])
		case StateStopping:
			s.stopWait = append(s.stopWait, r)
			s.restartOn = s.restartOn || restart
			if !restart {
				s.restartOn = false
				s.saveState(true, st.HoldPrimary)
			}
		default: // Stopped, Exited, Backoff
			s.cancelBackoff()
			if restart {
				s.log.Info("starting the process on a restart request; it was not running", "previousState", st.State)
				s.saveState(false, st.HoldPrimary)
				s.failures = 0
				s.set(func(st *Status) {
					if !st.StartTime.IsZero() {
						st.RestartCount++
					}
				})
				s.start()
			} else {
				s.saveState(true, st.HoldPrimary)
				s.set(func(st *Status) {
					st.State, st.Backoff, st.Message = StateStopped, 0, "stopped through the API; call Start"
				})
			}
			r.reply <- reply{s.Status(), nil}
		}
	}
}

func (s *Supervisor) cancelBackoff() {
	if s.backoff != nil {
		s.backoff.Stop()
		s.backoff = nil
	}
}

// start starts the process; a failure to start counts as an unexpected exit.
func (s *Supervisor) start() {
	hold := s.Status().HoldPrimary
	cmd := exec.Command(s.cfg.Command, s.cfg.Args...)
	cmd.Dir = s.cfg.WorkingDir
	cmd.Stdin = nil
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.Env = os.Environ()
	for k, v := range s.cfg.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, s.cfg.HoldPrimary.Env+"="+strconv.FormatBool(hold))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.holdFile(hold); err != nil {
		s.failedStart(fmt.Errorf("hold-primary file: %w", err))
		return
	}
	if s.cfg.User != "" {
		cred, err := credential(s.cfg.User)
		if err != nil {
			s.failedStart(err)
			return
		}
		cmd.SysProcAttr.Credential = cred
	}
	s.log.Info("starting the process", "command", s.cfg.Command, "args", s.cfg.Args, "holdPrimary", hold, "user", s.cfg.User)
	ch, err := s.starter.Start(cmd)
	if err != nil {
		s.failedStart(err)
		return
	}
	s.exitCh = ch
	s.started = time.Now()
	pid := cmd.Process.Pid
	s.set(func(st *Status) {
		st.State, st.Pid, st.StartTime, st.Backoff = StateRunning, pid, s.started, 0
		st.Message = ""
	})
	s.log.Info("process started", "pid", pid)
}

func (s *Supervisor) failedStart(err error) {
	s.log.Error(err, "could not start the process")
	now := time.Now()
	s.exitCh = nil
	s.set(func(st *Status) {
		st.Pid, st.LastExitCode, st.LastExitSignal, st.LastExitTime = 0, -1, "", now
		st.Message = "could not start: " + err.Error()
	})
	s.afterUnexpectedExit(false, now, "could not start: "+err.Error())
}

func (s *Supervisor) holdFile(hold bool) error {
	f := s.cfg.HoldPrimary.File
	if f == "" {
		return nil
	}
	if hold {
		return os.WriteFile(f, []byte("hold_primary: do not take the primary role\n"), 0o644)
	}
	if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (s *Supervisor) beginStop(grace time.Duration, why string) {
	if grace <= 0 {
		grace = s.cfg.GracePeriod.Duration
	}
	st := s.Status()
	s.log.Info("stopping the process", "pid", st.Pid, "signal", runtimeconfig.SignalName(s.stopSig), "gracePeriod", grace.String(), "reason", why)
	s.set(func(st *Status) { st.State, st.Message = StateStopping, why })
	if err := unix.Kill(st.Pid, s.stopSig); err != nil {
		s.log.Error(err, "sending the stop signal failed; killing the process group", "pid", st.Pid)
		s.killGroup("the stop signal could not be sent")
		return
	}
	s.kill = time.NewTimer(grace)
}

func (s *Supervisor) killGroup(why string) {
	pid := s.Status().Pid
	if pid <= 0 {
		return
	}
	s.log.Info("killing the process group with SIGKILL", "pgid", pid, "reason", why)
	_ = unix.Kill(-pid, unix.SIGKILL)
	_ = unix.Kill(pid, unix.SIGKILL)
}

func (s *Supervisor) exited(ex reaper.Exit) {
	s.exitCh = nil
	if s.kill != nil {
		s.kill.Stop()
		s.kill = nil
	}
	// Leftovers of the process group (backends of a crashed postmaster)
	// would hold the data directory; they go with their leader.
	_ = unix.Kill(-ex.Pid, unix.SIGKILL)
	code, sig := exitCode(ex.Status)
	intended := s.Status().State == StateStopping
	s.log.Info("process exited", "pid", ex.Pid, "exitCode", code, "signal", sig, "intended", intended, "ranFor", ex.Time.Sub(s.started).Round(time.Millisecond).String())
	s.set(func(st *Status) {
		st.Pid, st.LastExitCode, st.LastExitSignal, st.LastExitTime = 0, code, sig, ex.Time
	})
	if intended {
		waiters := s.stopWait
		s.stopWait = nil
		if s.restartOn {
			s.restartOn = false
			s.failures = 0
			s.set(func(st *Status) { st.RestartCount++ })
			s.start()
		} else {
			s.set(func(st *Status) { st.State, st.Message = StateStopped, "stopped through the API; call Start" })
		}
		for _, w := range waiters {
			w.reply <- reply{s.Status(), nil}
		}
		return
	}
	why := fmt.Sprintf("exited unexpectedly (code %d)", code)
	if sig != "" {
		why = fmt.Sprintf("exited unexpectedly (signal %s)", sig)
	}
	s.afterUnexpectedExit(code == 0 && sig == "", ex.Time, why)
}

func (s *Supervisor) afterUnexpectedExit(success bool, at time.Time, why string) {
	policy := s.cfg.Restart.Policy
	if policy == runtimeconfig.RestartNever || (policy == runtimeconfig.RestartOnFailure && success) {
		s.set(func(st *Status) {
			st.State = StateExited
			st.Message = fmt.Sprintf("%s; restart policy %s: not restarting", why, policy)
		})
		return
	}
	if !s.started.IsZero() && at.Sub(s.started) >= s.cfg.Restart.ResetAfter.Duration {
		s.failures = 0
	}
	d := backoffDelay(s.failures, s.cfg.Restart.InitialBackoff.Duration, s.cfg.Restart.MaxBackoff.Duration)
	s.failures++
	s.log.Info("the process exited unexpectedly; restarting it after a backoff", "backoff", d.String(), "consecutiveFailures", s.failures)
	s.set(func(st *Status) {
		st.State, st.Backoff = StateBackoff, d
		st.Message = fmt.Sprintf("%s; restarting in %s", why, d)
	})
	s.backoff = time.NewTimer(d)
}

// shutdown stops the process for good (container termination).
func (s *Supervisor) shutdown() {
	s.cancelBackoff()
	st := s.Status()
	if st.State == StateRunning || st.State == StateStarting {
		s.beginStop(0, "procmgr is shutting down")
	}
	for s.exitCh != nil {
		select {
		case ex := <-s.exitCh:
			s.restartOn = false
			s.exited(ex)
		case <-timerC(s.kill):
			s.kill = nil
			s.killGroup("the grace period is over")
		}
	}
	s.set(func(st *Status) { st.State, st.Message = StateStopped, "procmgr shut down" })
}

func exitCode(ws unix.WaitStatus) (int, string) {
	if ws.Signaled() {
		return -1, runtimeconfig.SignalName(ws.Signal())
	}
	return ws.ExitStatus(), ""
}
