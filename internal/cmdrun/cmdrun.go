// Package cmdrun runs a short-lived command the way the in-pod agents need:
// argv (no shell), in its own process group, the whole group killed at the
// timeout, output captured up to a cap. The status agent's probe and the ops
// agent's actions use it.
package cmdrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// ErrTimeout is returned when the command ran past its timeout.
var ErrTimeout = errors.New("timed out; its process group was killed")

// Capture says which output is returned.
type Capture int

// Captures.
const (
	Stdout Capture = iota
	Stderr
	// Both interleaves stdout and stderr as they are written.
	Both
)

// Spec is one command to run.
type Spec struct {
	Argv    []string
	Env     map[string]string // added to this process's environment
	Dir     string
	Timeout time.Duration
	Capture Capture
	// Limit caps Result.Output (bytes).
	Limit int
}

// Result is how a command ended.
type Result struct {
	ExitCode  int
	Output    []byte
	Truncated bool
	// ErrLine is the first line of stderr when only stdout is captured.
	ErrLine string
	Start   time.Time
	End     time.Time
}

// capped keeps the first n bytes written and remembers whether it dropped
// any.
type capped struct {
	buf       bytes.Buffer
	n         int
	truncated bool
}

func (c *capped) Write(p []byte) (int, error) {
	room := c.n - c.buf.Len()
	switch {
	case room <= 0:
		c.truncated = c.truncated || len(p) > 0
	case len(p) > room:
		c.buf.Write(p[:room])
		c.truncated = true
	default:
		c.buf.Write(p)
	}
	return len(p), nil
}

// Run runs the command. A non-zero exit is a Result, not an error; a
// timeout is ErrTimeout (with the output so far); a command that cannot
// start is an error.
func Run(ctx context.Context, s Spec) (Result, error) {
	if len(s.Argv) == 0 || s.Argv[0] == "" {
		return Result{}, errors.New("empty command")
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Argv[0], s.Argv[1:]...)
	cmd.Dir = s.Dir
	cmd.Env = os.Environ()
	for k, v := range s.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	out, errOut := &capped{n: s.Limit}, &capped{n: 4096}
	switch s.Capture {
	case Stderr:
		cmd.Stderr = out
	case Both:
		cmd.Stdout, cmd.Stderr = out, out
	default:
		cmd.Stdout, cmd.Stderr = out, errOut
	}
	res := Result{Start: time.Now()}
	err := cmd.Run()
	res.End = time.Now()
	res.Output, res.Truncated = out.buf.Bytes(), out.truncated
	line, _, _ := bytes.Cut(bytes.TrimSpace(errOut.buf.Bytes()), []byte("\n"))
	res.ErrLine = string(line)
	if ctx.Err() == context.DeadlineExceeded {
		if cmd.Process != nil {
			// Members of the group that outlived the leader.
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		return res, fmt.Errorf("%s %w after %s", s.Argv[0], ErrTimeout, s.Timeout)
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitCode()
	default:
		return res, err
	}
	return res, nil
}
