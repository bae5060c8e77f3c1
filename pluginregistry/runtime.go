package pluginregistry

import (
	"fmt"
	"strconv"
)

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
