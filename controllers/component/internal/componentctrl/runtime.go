package componentctrl

import (
	"fmt"
	"strconv"
	"time"

	"github.com/plinth-io/plinth/pluginregistry"
	"github.com/plinth-io/plinth/runtimeconfig"
)

// runtimeProbe translates the plugin's status probe into the status agent's
// probe file. The probe's argv is rendered now (ports, names); it has no
// per-call arguments.
func runtimeProbe(in *inputs) (*runtimeconfig.Probe, error) {
	sp := in.def.StatusProbe
	ctx := in.context(-1, "")
	argv := make([]string, 0, len(sp.Command))
	for i, a := range sp.Command {
		s, err := pluginregistry.Render(fmt.Sprintf("status-probe.command[%d]", i), a, &ctx)
		if err != nil {
			return nil, err
		}
		argv = append(argv, s)
	}
	p := &runtimeconfig.Probe{
		Command:   argv,
		Parser:    sp.Parser.Type,
		Regex:     sp.Parser.Pattern,
		RoleField: sp.Role.Field,
		RoleMap:   sp.Role.Map,
		Details:   sp.Details,
		Heartbeat: runtimeconfig.D(defaultHeartbeatSeconds * time.Second),
	}
	for field, s := range map[*runtimeconfig.Duration]string{&p.Interval: sp.Interval, &p.Timeout: sp.Timeout} {
		if s == "" {
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("status probe duration %q: %w", s, err)
		}
		*field = runtimeconfig.D(d)
	}
	if sp.Healthy.Field != "" {
		p.Healthy = []runtimeconfig.HealthRule{{Field: sp.Healthy.Field, Values: sp.Healthy.Values}}
	}
	p.Default()
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("the plugin's status probe of %s does not make a valid probe file: %w", in.def.Name, err)
	}
	return p, nil
}

// runtimeActions translates the plugin actions the component serves into the
// ops agent's action file. Each argv element is rendered now with the
// component's context, except the action's own parameters (.Args.<name>),
// which become the ops agent's placeholders and are filled, validated, per call.
func runtimeActions(in *inputs) (*runtimeconfig.Actions, error) {
	out := &runtimeconfig.Actions{Actions: []runtimeconfig.Action{}}
	for _, name := range in.def.Actions {
		a := in.pv.Action(name)
		if a == nil {
			return nil, fmt.Errorf("component %s serves action %q, which the plugin does not declare", in.def.Name, name)
		}
		ctx := in.context(-1, "")
		ctx.Args = map[string]string{}
		for _, p := range a.Parameters {
			ctx.Args[p.Name] = "{{index . " + strconv.Quote(p.Name) + "}}"
		}
		ra := runtimeconfig.Action{Name: a.Name, Description: a.Description, Output: runtimeOutput(a.Output)}
		for i, arg := range a.Command {
			s, err := pluginregistry.Render(fmt.Sprintf("action %s command[%d]", a.Name, i), arg, &ctx)
			if err != nil {
				return nil, err
			}
			ra.Argv = append(ra.Argv, s)
		}
		if a.Timeout != "" {
			d, err := time.ParseDuration(a.Timeout)
			if err != nil {
				return nil, fmt.Errorf("action %s timeout %q: %w", a.Name, a.Timeout, err)
			}
			ra.Timeout = runtimeconfig.D(d)
		}
		for _, p := range a.Parameters {
			rp := runtimeconfig.Parameter{
				Name: p.Name, Type: runtimeType(p.Type), Description: p.Description,
				Required: p.Required, AllowedValues: p.Values, Pattern: p.Pattern,
			}
			if p.Default != nil {
				rp.Default = *p.Default
			}
			ra.Parameters = append(ra.Parameters, rp)
		}
		out.Actions = append(out.Actions, ra)
	}
	return out, nil
}

// runtimeType maps plugin parameter types to the ops agent's; the ops agent
// checks syntax, the operation controller checks the plugin's CUE constraints.
func runtimeType(t string) string {
	switch t {
	case pluginregistry.TypeInt:
		return runtimeconfig.TypeInt
	case pluginregistry.TypeBool:
		return runtimeconfig.TypeBool
	case pluginregistry.TypeEnum:
		return runtimeconfig.TypeEnum
	case pluginregistry.TypeDuration:
		return runtimeconfig.TypeDuration
	default:
		return runtimeconfig.TypeString
	}
}

func runtimeOutput(o string) string {
	switch o {
	case pluginregistry.OutputStderr:
		return runtimeconfig.OutputStderr
	case pluginregistry.OutputCombined:
		return runtimeconfig.OutputBoth
	default:
		return runtimeconfig.OutputStdout
	}
}
