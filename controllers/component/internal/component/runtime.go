package component

import (
	"fmt"
	"time"

	"github.com/plinth-io/plinth/pluginregistry"
	"github.com/plinth-io/plinth/runtimeconfig"
)

// runtimeProbe turns the plugin's status probe, rendered by the registry,
// into the status agent's probe file. The heartbeat is the plugin's, which
// is also the WorkloadSet's spec.heartbeatSeconds (see heartbeatOf), so that
// the reader's staleness limit (three heartbeats) follows the writer.
func runtimeProbe(in *inputs) (*runtimeconfig.Probe, error) {
	ctx := in.context(-1, "")
	sp, err := pluginregistry.RenderStatusProbe(in.pv, in.def.Name, &ctx)
	if err != nil {
		return nil, err
	}
	hb, err := heartbeatOf(in)
	if err != nil {
		return nil, err
	}
	p := &runtimeconfig.Probe{
		Command:   sp.Command,
		Env:       sp.Env,
		Parser:    sp.Parser,
		Regex:     sp.Regex,
		RoleField: sp.RoleField,
		RoleMap:   sp.RoleMap,
		Details:   sp.Details,
		Heartbeat: runtimeconfig.D(hb),
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
	for _, h := range sp.Healthy {
		p.Healthy = append(p.Healthy, runtimeconfig.HealthRule{Field: h.Field, Values: h.Values, Optional: h.Optional})
	}
	p.Default()
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("the plugin's status probe of %s does not make a valid probe file: %w", in.def.Name, err)
	}
	return p, nil
}

// runtimeActions turns the plugin actions the component serves into the ops
// agent's action file. The registry renders each argv element with the
// component's context and leaves the action's own parameters as the ops
// agent's placeholders, filled and validated per call.
func runtimeActions(in *inputs) (*runtimeconfig.Actions, error) {
	out := &runtimeconfig.Actions{Actions: []runtimeconfig.Action{}}
	for _, name := range in.def.Actions {
		a := in.pv.Action(name)
		if a == nil {
			return nil, fmt.Errorf("component %s serves action %q, which the plugin does not declare", in.def.Name, name)
		}
		argv, err := pluginregistry.AgentArgv(a, in.context(-1, ""))
		if err != nil {
			return nil, err
		}
		ra := runtimeconfig.Action{Name: a.Name, Description: a.Description, Argv: argv, Output: runtimeOutput(a.Output)}
		if a.Timeout != "" {
			d, err := time.ParseDuration(a.Timeout)
			if err != nil {
				return nil, fmt.Errorf("action %s timeout %q: %w", a.Name, a.Timeout, err)
			}
			ra.Timeout = runtimeconfig.D(d)
		}
		ra.Parameters = in.pv.AgentParameters(in.def, a)
		out.Actions = append(out.Actions, ra)
	}
	return out, nil
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

// heartbeatOf is the status agent's heartbeat the plugin declares for the
// component (the probe file's default when it declares none).
func heartbeatOf(in *inputs) (time.Duration, error) {
	hb, err := in.def.StatusProbe.HeartbeatDuration()
	if err != nil {
		return 0, fmt.Errorf("the status probe of %s: %w", in.def.Name, err)
	}
	return hb, nil
}
