package pluginregistry

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"k8s.io/apimachinery/pkg/api/resource"
)

// checkValue checks one string value against a declared parameter: its type,
// enum values, pattern and CUE constraint.
func checkValue(ctx *cue.Context, p Parameter, value string) error {
	var typed any = value
	switch p.Type {
	case TypeInt:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", value)
		}
		typed = n
	case TypeBool:
		b, err := strconv.ParseBool(value)
		if err != nil || (value != "true" && value != "false") {
			return fmt.Errorf("%q is not a bool: expected true or false", value)
		}
		typed = b
	case TypeEnum:
		found := false
		for _, v := range p.Values {
			found = found || v == value
		}
		if !found {
			return fmt.Errorf("%q is not allowed: expected one of %s", value, strings.Join(p.Values, ", "))
		}
	case TypeDuration:
		if _, err := time.ParseDuration(value); err != nil {
			return fmt.Errorf("%q is not a duration: expected for example 30s or 5m", value)
		}
	case TypeQuantity:
		if _, err := resource.ParseQuantity(value); err != nil {
			return fmt.Errorf("%q is not a quantity: expected for example 512Mi or 2Gi", value)
		}
	case TypeString:
	default:
		return fmt.Errorf("unknown type %q: expected string, int, bool, enum, duration or quantity", p.Type)
	}
	if p.Pattern != "" {
		re, err := regexp.Compile("^(?:" + p.Pattern + ")$")
		if err != nil {
			return fmt.Errorf("pattern %q does not compile: %v", p.Pattern, err)
		}
		if !re.MatchString(value) {
			return fmt.Errorf("%q does not match the pattern %s", value, p.Pattern)
		}
	}
	if p.Constraint != "" {
		if err := checkConstraint(p.Constraint); err != nil {
			return fmt.Errorf("constraint %q is refused: %v", p.Constraint, err)
		}
		c := ctx.CompileString(p.Constraint)
		if c.Err() != nil {
			return fmt.Errorf("constraint %q is not a valid CUE expression: %v", p.Constraint, oneLine(c.Err()))
		}
		u := c.Unify(ctx.Encode(typed))
		if err := u.Validate(cue.Concrete(true)); err != nil {
			return fmt.Errorf("%q violates the constraint %s: %s", value, p.Constraint, oneLine(err))
		}
	}
	return nil
}

func oneLine(err error) string {
	var msgs []string
	for _, e := range cueerrors.Errors(err) {
		f, a := e.Msg()
		msgs = append(msgs, fmt.Sprintf(f, a...))
	}
	if len(msgs) == 0 {
		return err.Error()
	}
	return strings.Join(msgs, "; ")
}

// ParameterError is one rejected parameter value.
type ParameterError struct {
	Name    string
	Message string
}

// ParametersError lists every rejected parameter.
type ParametersError struct {
	Component string
	Errors    []ParameterError
}

func (e *ParametersError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, pe := range e.Errors {
		parts[i] = pe.Name + ": " + pe.Message
	}
	return fmt.Sprintf("invalid parameters for component %s: %s", e.Component, strings.Join(parts, "; "))
}

// ComponentParams returns the parameter block of a component definition.
func (pv *PluginVersion) ComponentParams(component string) (*ComponentParams, error) {
	for i := range pv.Params.Components {
		if pv.Params.Components[i].Component == component {
			return &pv.Params.Components[i], nil
		}
	}
	if pv.Component(component) == nil {
		return nil, fmt.Errorf("plugin %s %s has no component %q", pv.Name(), pv.Version(), component)
	}
	return &ComponentParams{Component: component}, nil
}

// Component returns a component definition, or nil.
func (pv *PluginVersion) Component(name string) *ComponentDef {
	for i := range pv.Components.Components {
		if pv.Components.Components[i].Name == name {
			return &pv.Components.Components[i]
		}
	}
	return nil
}

// Topology returns a topology, or nil.
func (pv *PluginVersion) Topology(name string) *Topology {
	for i := range pv.Components.Topologies {
		if pv.Components.Topologies[i].Name == name {
			return &pv.Components.Topologies[i]
		}
	}
	return nil
}

// OperationTemplate returns an operation template, or nil.
func (pv *PluginVersion) OperationTemplate(name string) *OperationTemplate {
	for i := range pv.Operations.Templates {
		if pv.Operations.Templates[i].Name == name {
			return &pv.Operations.Templates[i]
		}
	}
	return nil
}

// Action returns an ops-agent action, or nil.
func (pv *PluginVersion) Action(name string) *Action {
	for i := range pv.Operations.Actions {
		if pv.Operations.Actions[i].Name == name {
			return &pv.Operations.Actions[i]
		}
	}
	return nil
}

// ResolveArguments validates values against declared parameters and returns
// them merged with the defaults: unknown names, missing required values and
// values that break a type or constraint are all reported.
func ResolveArguments(decls []Parameter, values map[string]string) (map[string]string, []ParameterError) {
	ctx := cuecontext.New()
	out := map[string]string{}
	var errs []ParameterError
	declared := map[string]bool{}
	for _, p := range decls {
		declared[p.Name] = true
		v, ok := values[p.Name]
		switch {
		case ok:
		case p.Default != nil:
			v = *p.Default
		case p.Required:
			errs = append(errs, ParameterError{p.Name, "is required"})
			continue
		default:
			continue
		}
		if err := checkValue(ctx, p, v); err != nil {
			msg := err.Error()
			if p.Secret {
				msg = "the value is not valid for this secret parameter (type " + p.Type + ")"
			}
			errs = append(errs, ParameterError{p.Name, msg})
			continue
		}
		out[p.Name] = v
	}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !declared[k] {
			errs = append(errs, ParameterError{k, "unknown parameter: " + suggest(k, decls)})
		}
	}
	return out, errs
}

func suggest(name string, decls []Parameter) string {
	var names []string
	for _, p := range decls {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "this takes no parameters"
	}
	return "expected one of " + strings.Join(names, ", ")
}

// ValidateParameters validates a user's middleware parameters for one
// component and returns the effective parameters (defaults merged).
func ValidateParameters(pv *PluginVersion, component string, values map[string]string) (map[string]string, error) {
	cp, err := pv.ComponentParams(component)
	if err != nil {
		return nil, err
	}
	out, errs := ResolveArguments(cp.Parameters, values)
	if len(errs) > 0 {
		return nil, &ParametersError{Component: component, Errors: errs}
	}
	return out, nil
}

// RestartRequired lists the parameters whose change from old to updated
// needs a restart (those not declared dynamic), sorted. Both maps are
// effective parameters.
func RestartRequired(pv *PluginVersion, component string, old, updated map[string]string) ([]string, error) {
	cp, err := pv.ComponentParams(component)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range cp.Parameters {
		if old[p.Name] != updated[p.Name] && !p.Dynamic {
			out = append(out, p.Name)
		}
	}
	return out, nil
}

// RenderedFile is a rendered configuration file.
type RenderedFile struct {
	Name      string
	MountPath string
	Content   string
}

// RenderConfigFiles validates values (the user's parameters for the
// component) and renders the component's config files with ctx, whose
// Params are replaced by the effective parameters.
func RenderConfigFiles(pv *PluginVersion, component string, values map[string]string, ctx Context) ([]RenderedFile, error) {
	eff, err := ValidateParameters(pv, component, values)
	if err != nil {
		return nil, err
	}
	cp, err := pv.ComponentParams(component)
	if err != nil {
		return nil, err
	}
	ctx.Params = eff
	var out []RenderedFile
	for _, f := range cp.ConfigFiles {
		s, err := Render(f.Name, f.Template, &ctx)
		if err != nil {
			return nil, fmt.Errorf("rendering config file %s of component %s: %w", f.Name, component, err)
		}
		out = append(out, RenderedFile{Name: f.Name, MountPath: f.MountPath, Content: s})
	}
	return out, nil
}

// MaxReplicas is the most pods per WorkloadSet placement tc allows for d:
// the placement's range when it narrows the component's, else d's.
func (d *ComponentDef) MaxReplicas(tc *TopologyComponent) int32 {
	if tc != nil && tc.Replicas != nil {
		return tc.Replicas.Max
	}
	return d.Replicas.Max
}

// ServicesIn splits d's declared Services into those it has in placement tc
// and those left out there: a Service selecting a role no pod can carry.
// With a writable role and at most one pod, that pod is the designated
// primary (the workloadset-controller designates it before creating it), so
// a Service selecting another role, such as the replicas Service of a
// standalone Redis, would never have an endpoint.
func (d *ComponentDef) ServicesIn(tc *TopologyComponent) (kept, left []Service) {
	writable := ""
	for _, r := range d.Roles {
		if r.Writable {
			writable = r.Name
		}
	}
	single := d.MaxReplicas(tc) <= 1
	for _, s := range d.Services {
		if single && writable != "" && !s.Headless && s.Role != "" && s.Role != writable {
			left = append(left, s)
			continue
		}
		kept = append(kept, s)
	}
	return kept, left
}
