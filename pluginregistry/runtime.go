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

// MaxMemberBytes bounds one entry of the members parameter: a pod's DNS
// name <pod>.<service>.<namespace>.svc (three DNS labels of at most 63
// bytes each), ":" and a port, and the separating space.
const MaxMemberBytes = 63 + 1 + 63 + 1 + 63 + len(".svc") + len(":65535") + 1

// MembersMaxLength is the longest members value the component-controller
// can pass to action name of component def: every pod of the largest
// topology the plugin allows for it (most shards times most pods per
// shard), each MaxMemberBytes. It is 0 when no topology passes members to
// that action.
func (pv *PluginVersion) MembersMaxLength(def *ComponentDef, name string) int {
	most := 0
	for ti := range pv.Components.Topologies {
		for ci := range pv.Components.Topologies[ti].Components {
			tc := &pv.Components.Topologies[ti].Components[ci]
			if tc.Name != def.Name || !passesMembers(tc, name) {
				continue
			}
			pods := int(def.MaxReplicas(tc))
			if tc.Shards != nil {
				pods *= int(tc.Shards.Max)
			}
			most = max(most, pods*MaxMemberBytes)
		}
	}
	return most
}

func passesMembers(tc *TopologyComponent, action string) bool {
	if tc.Bootstrap != nil && tc.Bootstrap.Action == action {
		return true
	}
	return tc.Reshard != nil && (tc.Reshard.ScaleOut.Action == action || tc.Reshard.ScaleIn.Action == action)
}

// AgentParameters are an action's parameters as the ops agent of component
// def's pods declares them: the ops agent checks syntax and length (the
// controllers check the plugin's CUE constraints). A members parameter is
// as long as the largest topology needs (MembersMaxLength), every other
// string the agent's default.
func (pv *PluginVersion) AgentParameters(def *ComponentDef, a *Action) []runtimeconfig.Parameter {
	var out []runtimeconfig.Parameter
	for _, p := range a.Parameters {
		rp := runtimeconfig.Parameter{
			Name: p.Name, Type: agentType(p.Type), Description: p.Description,
			Required: p.Required, AllowedValues: p.Values, Pattern: p.Pattern,
		}
		if p.Default != nil {
			rp.Default = *p.Default
		}
		if p.Name == BootstrapMembers {
			if n := pv.MembersMaxLength(def, a.Name); n > runtimeconfig.DefaultMaxLength {
				rp.MaxLength = min(n, runtimeconfig.MaxParameterLength)
			}
		}
		out = append(out, rp)
	}
	return out
}

// agentType maps plugin parameter types to the ops agent's.
func agentType(t string) string {
	switch t {
	case TypeInt:
		return runtimeconfig.TypeInt
	case TypeBool:
		return runtimeconfig.TypeBool
	case TypeEnum:
		return runtimeconfig.TypeEnum
	case TypeDuration:
		return runtimeconfig.TypeDuration
	default:
		return runtimeconfig.TypeString
	}
}
