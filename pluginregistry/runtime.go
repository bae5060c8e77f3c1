package pluginregistry

import (
	"fmt"
	"strconv"
	"time"

	"github.com/plinth-io/plinth/runtimeconfig"
)

// Bounds of a status probe's heartbeat: the WorkloadSet carries it in whole
// seconds (spec.heartbeatSeconds), and the workloadset-controller holds a
// report stale after three of them.
const (
	MinHeartbeat = time.Second
	MaxHeartbeat = time.Hour
)

// HeartbeatDuration is how often the status agent rewrites an unchanged
// report: the probe's heartbeat, or the probe file's default when it names
// none. It must be whole seconds between MinHeartbeat and MaxHeartbeat.
func (p *StatusProbe) HeartbeatDuration() (time.Duration, error) {
	if p.Heartbeat == "" {
		return runtimeconfig.DefaultHeartbeat, nil
	}
	d, err := time.ParseDuration(p.Heartbeat)
	switch {
	case err != nil:
		return 0, fmt.Errorf("heartbeat %q is not a duration: expected for example 30s", p.Heartbeat)
	case d < MinHeartbeat || d > MaxHeartbeat || d%time.Second != 0:
		return 0, fmt.Errorf("heartbeat %s: expected whole seconds from %s to %s", d, MinHeartbeat, MaxHeartbeat)
	}
	return d, nil
}

// RenderStatusProbe renders a component's status probe for one pod: the
// command and env templates are resolved with ctx. The component-controller
// writes the result as the status agent's probe file.
func RenderStatusProbe(pv *PluginVersion, component string, ctx *Context) (*StatusProbe, error) {
	def := pv.Component(component)
	if def == nil {
		return nil, fmt.Errorf("plugin %s %s has no component %q", pv.Name(), pv.Version(), component)
	}
	out := def.StatusProbe
	out.Command = make([]string, len(def.StatusProbe.Command))
	for i, c := range def.StatusProbe.Command {
		s, err := Render(fmt.Sprintf("status-probe.command[%d]", i), c, ctx)
		if err != nil {
			return nil, err
		}
		out.Command[i] = s
	}
	if def.StatusProbe.Env != nil {
		out.Env = map[string]string{}
		for k, v := range def.StatusProbe.Env {
			s, err := Render("status-probe.env."+k, v, ctx)
			if err != nil {
				return nil, err
			}
			out.Env[k] = s
		}
	}
	return &out, nil
}

// AgentArgv renders an action's argv for the ops agent's action file: every
// Context field is resolved now, and each parameter placeholder (.Args.x)
// becomes the agent's own placeholder {{ index . "x" }}, which the agent
// fills with the validated value at Execute time (one argv element each,
// never through a shell).
func AgentArgv(a *Action, ctx Context) ([]string, error) {
	ctx.Args = map[string]string{}
	for _, p := range a.Parameters {
		ctx.Args[p.Name] = "{{ index . " + strconv.Quote(p.Name) + " }}"
	}
	return renderArgv(a, &ctx)
}
