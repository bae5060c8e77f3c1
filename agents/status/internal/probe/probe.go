// Package probe runs a status probe command: argv (no shell), a timeout that
// kills its whole process group, and a cap on the output it keeps.
package probe

import (
	"context"
	"fmt"
	"time"

	"github.com/plinth-io/plinth/internal/cmdrun"
)

// MaxOutput is the most output of a probe that is kept.
const MaxOutput = 64 << 10

// Run runs argv with extra environment variables and returns its standard
// output. A non-zero exit, a timeout or a failure to start is an error whose
// text includes the first line of standard error.
func Run(ctx context.Context, argv []string, env map[string]string, timeout time.Duration) ([]byte, error) {
	res, err := cmdrun.Run(ctx, cmdrun.Spec{Argv: argv, Env: env, Timeout: timeout, Capture: cmdrun.Stdout, Limit: MaxOutput})
	switch {
	case err != nil:
		return res.Output, fmt.Errorf("probe %w", err)
	case res.ExitCode != 0 && res.ErrLine != "":
		return res.Output, fmt.Errorf("probe %s: exit code %d: %s", argv[0], res.ExitCode, res.ErrLine)
	case res.ExitCode != 0:
		return res.Output, fmt.Errorf("probe %s: exit code %d", argv[0], res.ExitCode)
	}
	return res.Output, nil
}
