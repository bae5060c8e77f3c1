// Package probe runs a status probe command: argv (no shell), a timeout that
// kills its whole process group, and a cap on the output it keeps.
package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// MaxOutput is the most output of a probe that is kept.
const MaxOutput = 64 << 10

// capped keeps the first n bytes written to it.
type capped struct {
	buf bytes.Buffer
	n   int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.n - c.buf.Len(); room > 0 {
		if len(p) > room {
			c.buf.Write(p[:room])
		} else {
			c.buf.Write(p)
		}
	}
	return len(p), nil
}

// Run runs argv with extra environment variables and returns its standard
// output. A non-zero exit, a timeout or a failure to start is an error whose
// text includes the first line of standard error.
func Run(ctx context.Context, argv []string, env map[string]string, timeout time.Duration) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("probe: empty command")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	stdout, stderr := &capped{n: MaxOutput}, &capped{n: 4096}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return stdout.buf.Bytes(), fmt.Errorf("probe %s timed out after %s", argv[0], timeout)
	}
	if err != nil {
		first, _, _ := strings.Cut(strings.TrimSpace(stderr.buf.String()), "\n")
		if first != "" {
			return stdout.buf.Bytes(), fmt.Errorf("probe %s: %v: %s", argv[0], err, first)
		}
		return stdout.buf.Bytes(), fmt.Errorf("probe %s: %v", argv[0], err)
	}
	return stdout.buf.Bytes(), nil
}
