// Package actions validates, renders and runs the maintenance actions a
// plugin declares (runtimeconfig.Actions). Parameters are checked against
// their declared type and constraints before anything runs; each argv
// element is a template rendered on its own, so a parameter value is always
// exactly one argument and never passes through a shell; the command runs in
// its own process group, which is killed when the timeout passes; the output
// returned is capped.
package actions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/plinth-io/plinth/internal/cmdrun"
	"github.com/plinth-io/plinth/runtimeconfig"
)

// ErrUnknownAction is returned for an action the file does not declare.
var ErrUnknownAction = errors.New("unknown action")

// ErrInvalidParameters wraps every parameter problem.
var ErrInvalidParameters = errors.New("invalid parameters")

// ErrTimeout is returned when the action ran past its timeout.
var ErrTimeout = cmdrun.ErrTimeout

// Catalog is a loaded action file.
type Catalog struct {
	byName map[string]*runtimeconfig.Action
	list   []runtimeconfig.Action
}

// NewCatalog indexes a validated action file.
func NewCatalog(a *runtimeconfig.Actions) *Catalog {
	c := &Catalog{byName: map[string]*runtimeconfig.Action{}, list: a.Actions}
	for i := range a.Actions {
		c.byName[a.Actions[i].Name] = &a.Actions[i]
	}
	return c
}

// List returns the declared actions.
func (c *Catalog) List() []runtimeconfig.Action { return c.list }

// Get returns the action called name.
func (c *Catalog) Get(name string) (*runtimeconfig.Action, error) {
	a, ok := c.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownAction, name)
	}
	return a, nil
}

// Validate checks the given parameters against the action's declaration and
// returns the value of every declared parameter (defaults applied, booleans
// and integers in canonical form, "" for an absent optional one).
func Validate(a *runtimeconfig.Action, given map[string]string) (map[string]string, error) {
	var errs []error
	declared := map[string]bool{}
	values := map[string]string{}
	for _, p := range a.Parameters {
		declared[p.Name] = true
		v, ok := given[p.Name]
		if !ok {
			if p.Required {
				errs = append(errs, fmt.Errorf("%s: required", p.Name))
				continue
			}
			values[p.Name] = p.Default
			if p.Default == "" {
				continue
			}
			v = p.Default
		}
		canon, err := check(p, v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.Name, err))
			continue
		}
		values[p.Name] = canon
	}
	var unknown []string
	for k := range given {
		if !declared[k] {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		errs = append(errs, fmt.Errorf("%.64q: not a parameter of %s", k, a.Name))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidParameters, err)
	}
	return values, nil
}

// check validates one value and returns it in canonical form. Error
// messages never repeat the value: it may be a secret.
func check(p runtimeconfig.Parameter, v string) (string, error) {
	if strings.ContainsRune(v, 0) {
		return "", errors.New("contains a NUL byte")
	}
	switch p.Type {
	case runtimeconfig.TypeInt:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return "", errors.New("not an integer")
		}
		if p.Min != nil && n < *p.Min {
			return "", fmt.Errorf("below the minimum %d", *p.Min)
		}
		if p.Max != nil && n > *p.Max {
			return "", fmt.Errorf("above the maximum %d", *p.Max)
		}
		return strconv.FormatInt(n, 10), nil
	case runtimeconfig.TypeBool:
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return "", errors.New("not a boolean (true or false)")
		}
		return strconv.FormatBool(b), nil
	case runtimeconfig.TypeDuration:
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d < 0 {
			return "", errors.New("not a duration such as 30s")
		}
		return d.String(), nil
	case runtimeconfig.TypeEnum:
		if !slices.Contains(p.AllowedValues, v) {
			return "", fmt.Errorf("not one of %v", p.AllowedValues)
		}
		return v, nil
	default: // string
		if len(v) > p.MaxLength {
			return "", fmt.Errorf("longer than %d bytes", p.MaxLength)
		}
		if len(p.AllowedValues) > 0 && !slices.Contains(p.AllowedValues, v) {
			return "", fmt.Errorf("not one of %v", p.AllowedValues)
		}
		if p.Pattern != "" {
			re, err := regexp.Compile(`^(?:` + p.Pattern + `)$`)
			if err != nil {
				return "", fmt.Errorf("the declared pattern does not compile: %w", err)
			}
			if !re.MatchString(v) {
				return "", fmt.Errorf("does not match the pattern %s", p.Pattern)
			}
		}
		return v, nil
	}
}

// Render renders every argv element with the validated values: one element,
// one argument, whatever the values contain.
func Render(a *runtimeconfig.Action, values map[string]string) ([]string, error) {
	argv := make([]string, 0, len(a.Argv))
	for i, s := range a.Argv {
		tmpl, err := template.New("argv").Option("missingkey=error").Parse(s)
		if err != nil {
			return nil, fmt.Errorf("argv[%d]: %w", i, err)
		}
		var b bytes.Buffer
		if err := tmpl.Execute(&b, values); err != nil {
			return nil, fmt.Errorf("argv[%d]: %w", i, err)
		}
		argv = append(argv, b.String())
	}
	if argv[0] == "" {
		return nil, errors.New("argv[0] rendered empty")
	}
	return argv, nil
}

// Run runs argv for the action with the timeout: stdout, stderr or both
// (interleaved) as the action declares, capped at its MaxOutputBytes. A
// non-zero exit is a Result, not an error; a timeout is ErrTimeout.
func Run(ctx context.Context, a *runtimeconfig.Action, argv []string, timeout time.Duration) (cmdrun.Result, error) {
	capture := cmdrun.Stdout
	switch a.Output {
	case runtimeconfig.OutputStderr:
		capture = cmdrun.Stderr
	case runtimeconfig.OutputBoth:
		capture = cmdrun.Both
	}
	return cmdrun.Run(ctx, cmdrun.Spec{Argv: argv, Env: a.Env, Dir: a.WorkingDir, Timeout: timeout, Capture: capture, Limit: a.MaxOutputBytes})
}
