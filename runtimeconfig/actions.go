package runtimeconfig

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"time"
)

// Parameter types of Parameter.Type.
const (
	TypeString   = "string"
	TypeInt      = "int"
	TypeBool     = "bool"
	TypeEnum     = "enum"
	TypeDuration = "duration"
)

// Outputs of Action.Output.
const (
	OutputStdout = "stdout"
	OutputStderr = "stderr"
	OutputBoth   = "both"
)

// DefaultMaxOutputBytes caps an action's returned output.
const DefaultMaxOutputBytes = 64 << 10

var actionName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
var paramName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Actions is the file of plinth-ops-agent (--actions): the maintenance
// actions a plugin declares.
//
//	actions:
//	  - name: config-set                               # lower-case, dashes
//	    description: Set one dynamic parameter.
//	    argv: [redis-cli, -p, "6379", CONFIG, SET, "{{.name}}", "{{.value}}"]
//	    parameters:
//	      - {name: name, type: enum, required: true, allowedValues: [maxmemory, maxmemory-policy]}
//	      - {name: value, type: string, required: true, pattern: '^[A-Za-z0-9-]+$', maxLength: 64}
//	      - {name: count, type: int, min: 1, max: 100, default: "10"}
//	    timeout: 30s
//	    output: stdout                                 # stdout (default), stderr or both
//	    maxOutputBytes: 65536
//
// Every argv element is a Go text/template rendered on its own with the
// validated parameters (.name), so a value always stays one argument; there
// is no shell unless the plugin writes one into argv itself.
type Actions struct {
	Actions []Action `json:"actions"`
}

// Action is one declared action.
type Action struct {
	Name           string            `json:"name"`
	Description    string            `json:"description,omitempty"`
	Argv           []string          `json:"argv"`
	Env            map[string]string `json:"env,omitempty"`
	WorkingDir     string            `json:"workingDir,omitempty"`
	Parameters     []Parameter       `json:"parameters,omitempty"`
	Timeout        Duration          `json:"timeout,omitempty"`
	Output         string            `json:"output,omitempty"`
	MaxOutputBytes int               `json:"maxOutputBytes,omitempty"`
}

// Parameter is one declared parameter of an action.
type Parameter struct {
	Name          string   `json:"name"`
	Type          string   `json:"type"`
	Description   string   `json:"description,omitempty"`
	Required      bool     `json:"required,omitempty"`
	Default       string   `json:"default,omitempty"`
	AllowedValues []string `json:"allowedValues,omitempty"`
	// Pattern is a regular expression the whole value must match (string).
	Pattern string `json:"pattern,omitempty"`
	// MaxLength bounds a string value (default DefaultMaxLength, at most
	// MaxParameterLength).
	MaxLength int `json:"maxLength,omitempty"`
	// Min and Max bound an int value.
	Min *int64 `json:"min,omitempty"`
	Max *int64 `json:"max,omitempty"`
}

// Bounds of a string parameter's length.
const (
	// DefaultMaxLength is a string parameter's MaxLength when none is set.
	DefaultMaxLength = 1024
	// MaxParameterLength is the largest MaxLength: Linux refuses a single
	// argument of 128 KiB or more (MAX_ARG_STRLEN, with its NUL byte).
	MaxParameterLength = 128<<10 - 1
)

// LoadActions reads, defaults and validates an action file.
func LoadActions(path string) (*Actions, error) { return load[Actions](path) }

// ParseActions decodes, defaults and validates an action file's content.
func ParseActions(data []byte) (*Actions, error) { return parse[Actions](data) }

// Default fills the fields left empty.
func (a *Actions) Default() {
	for i := range a.Actions {
		ac := &a.Actions[i]
		if ac.Timeout.Duration == 0 {
			ac.Timeout = D(time.Minute)
		}
		if ac.Output == "" {
			ac.Output = OutputStdout
		}
		if ac.MaxOutputBytes == 0 {
			ac.MaxOutputBytes = DefaultMaxOutputBytes
		}
		for j := range ac.Parameters {
			if ac.Parameters[j].MaxLength == 0 {
				ac.Parameters[j].MaxLength = DefaultMaxLength
			}
		}
	}
}

// Validate reports every invalid field.
func (a *Actions) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, ac := range a.Actions {
		where := fmt.Sprintf("actions[%d] (%s)", i, ac.Name)
		if !actionName.MatchString(ac.Name) {
			errs = append(errs, fmt.Errorf("%s: name must be lower-case letters, digits and dashes", where))
		}
		if seen[ac.Name] {
			errs = append(errs, fmt.Errorf("%s: duplicate name", where))
		}
		seen[ac.Name] = true
		if len(ac.Argv) == 0 || strings.TrimSpace(ac.Argv[0]) == "" {
			errs = append(errs, fmt.Errorf("%s: argv: required, the program first", where))
		}
		for j, s := range ac.Argv {
			if _, err := template.New("argv").Option("missingkey=error").Parse(s); err != nil {
				errs = append(errs, fmt.Errorf("%s: argv[%d]: %w", where, j, err))
			}
		}
		switch ac.Output {
		case OutputStdout, OutputStderr, OutputBoth:
		default:
			errs = append(errs, fmt.Errorf("%s: output %q: want stdout, stderr or both", where, ac.Output))
		}
		if ac.MaxOutputBytes < 0 {
			errs = append(errs, fmt.Errorf("%s: maxOutputBytes is negative", where))
		}
		pseen := map[string]bool{}
		for _, p := range ac.Parameters {
			if pseen[p.Name] {
				errs = append(errs, fmt.Errorf("%s: parameter %q declared twice", where, p.Name))
			}
			pseen[p.Name] = true
			if err := p.validate(); err != nil {
				errs = append(errs, fmt.Errorf("%s: parameter %q: %w", where, p.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (p Parameter) validate() error {
	if !paramName.MatchString(p.Name) {
		return errors.New("name must be a Go identifier (letters, digits, underscore)")
	}
	switch p.Type {
	case TypeString, TypeInt, TypeBool, TypeDuration:
	case TypeEnum:
		if len(p.AllowedValues) == 0 {
			return errors.New("enum needs allowedValues")
		}
	default:
		return fmt.Errorf("type %q: want string, int, bool, enum or duration", p.Type)
	}
	if p.Pattern != "" {
		if _, err := regexp.Compile(p.Pattern); err != nil {
			return fmt.Errorf("pattern: %w", err)
		}
	}
	if p.Min != nil && p.Max != nil && *p.Min > *p.Max {
		return fmt.Errorf("min %d is greater than max %d", *p.Min, *p.Max)
	}
	if p.MaxLength < 0 || p.MaxLength > MaxParameterLength {
		return fmt.Errorf("maxLength %d: want 0 to %d (the longest argument Linux passes to a program)", p.MaxLength, MaxParameterLength)
	}
	return nil
}
