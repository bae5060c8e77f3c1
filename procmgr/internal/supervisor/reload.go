package supervisor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/plinth-io/plinth/runtimeconfig"
)

// Signal sends sig to the running process.
func (s *Supervisor) Signal(sig syscall.Signal) (Status, error) {
	st := s.Status()
	if st.State != StateRunning || st.Pid <= 0 {
		return st, ErrNotRunning
	}
	s.log.Info("sending a signal to the process", "pid", st.Pid, "signal", runtimeconfig.SignalName(sig))
	if err := unix.Kill(st.Pid, sig); err != nil {
		return st, fmt.Errorf("signal %s to pid %d: %w", runtimeconfig.SignalName(sig), st.Pid, err)
	}
	return st, nil
}

// Reload asks the running process to re-read its configuration: the reload
// signal, or the reload command (run with PLINTH_PID set to the process's
// PID, killed with its process group after the reload timeout). The process
// keeps its PID.
func (s *Supervisor) Reload(ctx context.Context) (Status, error) {
	st := s.Status()
	if st.State != StateRunning || st.Pid <= 0 {
		return st, ErrNotRunning
	}
	if s.cfg.Reload.Signal != "" {
		sig, err := runtimeconfig.ParseSignal(s.cfg.Reload.Signal)
		if err != nil {
			return st, err
		}
		s.log.Info("reloading the process's configuration with a signal", "pid", st.Pid, "signal", s.cfg.Reload.Signal)
		if err := unix.Kill(st.Pid, sig); err != nil {
			return st, fmt.Errorf("reload signal to pid %d: %w", st.Pid, err)
		}
		return st, nil
	}
	argv := s.cfg.Reload.Command
	s.log.Info("reloading the process's configuration with a command", "pid", st.Pid, "command", argv)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "PLINTH_PID="+strconv.Itoa(st.Pid))
	for k, v := range s.cfg.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if s.cfg.User != "" {
		cred, err := credential(s.cfg.User)
		if err != nil {
			return st, err
		}
		cmd.SysProcAttr.Credential = cred
	}
	ch, err := s.starter.Start(cmd)
	if err != nil {
		return st, fmt.Errorf("reload command: %w", err)
	}
	timer := time.NewTimer(s.cfg.Reload.Timeout.Duration)
	defer timer.Stop()
	select {
	case ex := <-ch:
		code, sig := exitCode(ex.Status)
		if code != 0 || sig != "" {
			return s.Status(), fmt.Errorf("reload command %v failed: exit code %d %s", argv[0], code, sig)
		}
		return s.Status(), nil
	case <-timer.C:
		_ = unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
		<-ch
		return s.Status(), fmt.Errorf("reload command %v did not finish within %s; killed", argv[0], s.cfg.Reload.Timeout.Duration)
	case <-ctx.Done():
		_ = unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
		<-ch
		return s.Status(), ctx.Err()
	}
}
