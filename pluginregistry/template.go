package pluginregistry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// Context is the one, fixed set of values every template sees: pod
// templates, config files, operation steps and action argv. A placeholder
// that names something outside it, or a missing map key, is an error.
type Context struct {
	// Plugin is the plugin and its version.
	Plugin PluginRef
	// Application, Component, WorkloadSet and Pod describe where the
	// template is rendered; fields that do not apply are zero.
	Application ObjectRef
	Component   ComponentRef
	WorkloadSet WorkloadSetRef
	Pod         PodRef
	// Topology is the Application's topology.
	Topology string
	// Version is the middleware version and Image its image.
	Version string
	Image   string
	// Params are the component's effective middleware parameters (defaults
	// merged with the user's values).
	Params map[string]string
	// Args are the operation's (or action's) parameters, defaults merged.
	Args map[string]string
	// Ports are the component's ports by name.
	Ports map[string]int32
	// Secrets names Secrets (never their content).
	Secrets SecretsRef
	// Platform is the Plinth installation.
	Platform PlatformRef
}

// PluginRef names a plugin version.
type PluginRef struct{ Name, Version string }

// ObjectRef names an object.
type ObjectRef struct{ Name, Namespace string }

// ComponentRef describes the Component being rendered.
type ComponentRef struct {
	// Name of the Component object; Def is the plugin's component definition.
	Name     string
	Def      string
	Replicas int32
	Shards   int32
}

// WorkloadSetRef describes the WorkloadSet being rendered.
type WorkloadSetRef struct {
	Name     string
	Shard    int32
	Replicas int32
}

// PodRef describes the Pod being rendered.
type PodRef struct {
	Name    string
	Ordinal int32
	Role    string
}

// SecretsRef names the Secrets of an Application.
type SecretsRef struct {
	// Credentials holds the middleware's admin credentials.
	Credentials string
	// TLS holds tls.crt, tls.key and ca.crt (empty when TLS is off).
	TLS string
	// AgentTLS holds the agents' mutual-TLS certificates.
	AgentTLS string
}

// PlatformRef describes the Plinth installation.
type PlatformRef struct {
	// Image is the Plinth image holding procmgr and the agents.
	Image     string
	Namespace string
	// BinDir is where the init container copies the binaries (/plinth/bin).
	BinDir string
}

// maxRenderBytes caps a template's output.
const maxRenderBytes = 1 << 20

// templateFuncs are the only functions templates may call.
var templateFuncs = template.FuncMap{
	// quote renders a JSON (and YAML) double-quoted string.
	"quote": func(v any) (string, error) {
		b, err := json.Marshal(fmt.Sprint(v))
		return string(b), err
	},
	// shquote renders a POSIX shell single-quoted word: the shell reads
	// it back as exactly the value, with no expansion ($, `, \, " and '
	// included). Use it, not quote, wherever a value lands in a script.
	"shquote": func(v any) string {
		return "'" + strings.ReplaceAll(fmt.Sprint(v), "'", `'\''`) + "'"
	},
	// json renders any value as compact JSON.
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"join":  strings.Join,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	// indent prefixes every line but the first with n spaces.
	"indent": func(n int, s string) (string, error) {
		if n < 0 || n > 1000 {
			return "", fmt.Errorf("indent %d: expected 0 to 1000 spaces", n)
		}
		if len(s)+strings.Count(s, "\n")*n > maxRenderBytes {
			return "", errTooLarge
		}
		return strings.ReplaceAll(s, "\n", "\n"+strings.Repeat(" ", n)), nil
	},
	"add": func(a, b int) (int, error) { return boundInt(a + b) },
	// stepFunc counts the template's steps; Render replaces it with a
	// counter per rendering (see instrument).
	stepFunc: func() (string, error) { return "", nil },
	"sub":    func(a, b int) (int, error) { return boundInt(a - b) },
	// int converts a string parameter to an integer.
	"int": func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, fmt.Errorf("%q is not an integer", s)
		}
		return boundInt(n)
	},
}

// maxTemplateInt bounds the integers templates compute, so that a range over
// an integer cannot spin for ever.
const maxTemplateInt = 100000

func boundInt(n int) (int, error) {
	if n > maxTemplateInt || n < -maxTemplateInt {
		return 0, fmt.Errorf("%d is outside the template integer range ±%d", n, maxTemplateInt)
	}
	return n, nil
}

// checkRanges refuses a range over an integer literal above maxTemplateInt.
func checkRanges(n parse.Node) error {
	switch x := n.(type) {
	case *parse.ListNode:
		if x == nil {
			return nil
		}
		for _, c := range x.Nodes {
			if err := checkRanges(c); err != nil {
				return err
			}
		}
	case *parse.RangeNode:
		if x.Pipe != nil {
			for _, cmd := range x.Pipe.Cmds {
				for _, arg := range cmd.Args {
					if num, ok := arg.(*parse.NumberNode); ok && (!num.IsInt || num.Int64 > maxTemplateInt) {
						return fmt.Errorf("range over %s is too large: at most %d iterations", num.Text, maxTemplateInt)
					}
				}
			}
		}
		return errors.Join(checkRanges(x.List), checkRanges(x.ElseList))
	case *parse.IfNode:
		return errors.Join(checkRanges(x.List), checkRanges(x.ElseList))
	case *parse.WithNode:
		return errors.Join(checkRanges(x.List), checkRanges(x.ElseList))
	}
	return nil
}

// stepFunc is the function instrument inserts at every step.
const stepFunc = "_plinthStep"

// instrument inserts a call of stepFunc at the start of every defined
// template's body and of every range body, so that Render counts range
// iterations and template calls (text/template has no hook of its own).
func instrument(n parse.Node) {
	switch x := n.(type) {
	case *parse.ListNode:
		if x == nil {
			return
		}
		for _, c := range x.Nodes {
			instrument(c)
		}
	case *parse.RangeNode:
		instrument(x.List)
		instrument(x.ElseList)
		x.List = prependStep(x.List)
	case *parse.IfNode:
		instrument(x.List)
		instrument(x.ElseList)
	case *parse.WithNode:
		instrument(x.List)
		instrument(x.ElseList)
	}
}

func prependStep(l *parse.ListNode) *parse.ListNode {
	if l == nil {
		l = &parse.ListNode{NodeType: parse.NodeList}
	}
	step := &parse.ActionNode{NodeType: parse.NodeAction, Pipe: &parse.PipeNode{NodeType: parse.NodePipe,
		Cmds: []*parse.CommandNode{{NodeType: parse.NodeCommand, Args: []parse.Node{parse.NewIdentifier(stepFunc)}}}}}
	l.Nodes = append([]parse.Node{step}, l.Nodes...)
	return l
}

// ParseTemplate parses text with the fixed function set and missingkey=error.
func ParseTemplate(name, text string) (*template.Template, error) {
	if len(text) > MaxDocumentBytes {
		return nil, fmt.Errorf("%s: the template is %d bytes, over the byte budget of %d", name, len(text), MaxDocumentBytes)
	}
	t, err := template.New(name).Funcs(templateFuncs).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err
	}
	for _, tt := range t.Templates() {
		if tt.Tree == nil {
			continue
		}
		if err := checkRanges(tt.Tree.Root); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		instrument(tt.Tree.Root)
		tt.Tree.Root = prependStep(tt.Tree.Root)
	}
	return t, nil
}

// errStepBudget ends a rendering that used up its budget.
var errStepBudget = fmt.Errorf("the template exceeds its step budget (%d range iterations and template calls, or %s): "+
	"a range or define fans out too far", MaxTemplateSteps, MaxTemplateTime)

// stepCounter is the stepFunc of one rendering.
func stepCounter() func() (string, error) {
	steps := 0
	start := time.Now()
	return func() (string, error) {
		steps++
		if steps > MaxTemplateSteps || (steps%64 == 0 && time.Since(start) > MaxTemplateTime) {
			return "", errStepBudget
		}
		return "", nil
	}
}

type cappedBuffer struct {
	bytes.Buffer
}

var errTooLarge = errors.New("template output exceeds 1 MiB")

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if c.Len()+len(p) > maxRenderBytes {
		return 0, errTooLarge
	}
	return c.Buffer.Write(p)
}

// Render renders text with ctx. The result is deterministic (map ranges are
// sorted); a placeholder outside Context or a missing key is an error.
func Render(name, text string, ctx *Context) (string, error) {
	t, err := ParseTemplate(name, text)
	if err != nil {
		return "", cleanTemplateError(err)
	}
	t.Funcs(template.FuncMap{stepFunc: stepCounter()})
	var out cappedBuffer
	if err := t.Execute(&out, ctx); err != nil {
		if errors.Is(err, errStepBudget) {
			return "", fmt.Errorf("%s: %w", name, errStepBudget)
		}
		return "", cleanTemplateError(err)
	}
	return out.String(), nil
}

// cleanTemplateError drops text/template's internal prefixes and explains
// the two most common mistakes.
func cleanTemplateError(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "template: ")
	switch {
	case strings.Contains(msg, "map has no entry for key"):
		msg += " (the key is not defined: declare it as a parameter or fix the spelling)"
	case strings.Contains(msg, "can't evaluate field"):
		msg += " (placeholders may only use the fields of the template context; see docs/plugins.md)"
	}
	return errors.New(msg)
}
