package pluginregistry

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"cuelang.org/go/cue"
	"github.com/Masterminds/semver/v3"
	"k8s.io/apimachinery/pkg/api/resource"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/runtimeconfig"
)

// checker runs the cross-document checks of a schema-valid plugin version.
type checker struct {
	pv   *PluginVersion
	docs map[Part]*document
	ctx  *cue.Context
	p    *problems
	// unrunnable collects, by template, the problems that keep an operation
	// template from running (PluginVersion.Unrunnable).
	unrunnable map[string]*problems
}

func newChecker(pv *PluginVersion, docs map[Part]*document, ctx *cue.Context, p *problems) *checker {
	return &checker{pv: pv, docs: docs, ctx: ctx, p: p}
}

func (c *checker) run() {
	c.manifest()
	c.components()
	c.podTemplates()
	c.params()
	c.operations()
	for name, p := range c.unrunnable {
		if c.pv.Unrunnable == nil {
			c.pv.Unrunnable = map[string][]FieldError{}
		}
		c.pv.Unrunnable[name] = p.sorted()
	}
}

// cannotRun records why operation template t cannot run.
func (c *checker) cannotRun(t OperationTemplate, path, format string, args ...any) {
	if c.unrunnable == nil {
		c.unrunnable = map[string]*problems{}
	}
	if c.unrunnable[t.Name] == nil {
		c.unrunnable[t.Name] = &problems{}
	}
	c.unrunnable[t.Name].add(c.docs[PartOperations], path, "template "+t.Name+" cannot run: "+format, args...)
}

func (c *checker) add(part Part, path, format string, args ...any) {
	c.p.add(c.docs[part], path, format, args...)
}

func (c *checker) manifest() {
	m := c.pv.Manifest
	self, err := semver.StrictNewVersion(strings.TrimPrefix(m.Version, "v"))
	if err != nil {
		c.add(PartManifest, "version", "%q is not a semantic version: expected vMAJOR.MINOR.PATCH, for example v1.0.0", m.Version)
	}
	seen := map[string]bool{}
	for i, sv := range m.SupportedVersions {
		path := joinIndex("supported-versions", i)
		if seen[sv.Version] {
			c.add(PartManifest, path+".version", "middleware version %q is listed twice", sv.Version)
		}
		seen[sv.Version] = true
	}
	for i, sv := range m.SupportedVersions {
		for j, f := range sv.UpgradeFrom {
			if !seen[f] {
				c.add(PartManifest, joinIndex(joinIndex("supported-versions", i)+".upgrade-from", j),
					"%q is not a supported version: expected one of %s", f, supportedList(c.pv))
			}
		}
	}
	if m.DefaultVersion != "" && !seen[m.DefaultVersion] {
		c.add(PartManifest, "default-version", "%q is not one of the supported-versions (%s)", m.DefaultVersion, supportedList(c.pv))
	}
	for i, entry := range m.AllowedUpgradeFrom {
		path := joinIndex("allowed-upgrade-from", i)
		if v, err := semver.StrictNewVersion(strings.TrimPrefix(entry, "v")); err == nil {
			if self != nil && !v.LessThan(self) {
				c.add(PartManifest, path, "%q is not lower than this version %s: upgrades only go forward", entry, m.Version)
			}
			continue
		}
		if _, err := semver.NewConstraint(entry); err != nil {
			c.add(PartManifest, path, "%q is neither a version (v1.0.0) nor a semver constraint (>= v1.0.0, < v1.1.0): %v", entry, err)
		}
	}
}

func (c *checker) components() {
	cs := c.pv.Components
	defs := map[string]*ComponentDef{}
	for i := range cs.Components {
		d := &cs.Components[i]
		path := joinIndex("components", i)
		if defs[d.Name] != nil {
			c.add(PartComponents, path+".name", "component %q is defined twice", d.Name)
		}
		defs[d.Name] = d
		c.checkRange(path+".replicas", d.Replicas)
		roles := map[string]bool{}
		for j, r := range d.Roles {
			if roles[r.Name] {
				c.add(PartComponents, joinIndex(path+".roles", j), "role %q is declared twice", r.Name)
			}
			roles[r.Name] = true
		}
		ports := map[string]bool{}
		for j, pt := range d.Ports {
			if ports[pt.Name] {
				c.add(PartComponents, joinIndex(path+".ports", j), "port %q is declared twice", pt.Name)
			}
			ports[pt.Name] = true
		}
		vols := map[string]bool{}
		for j, v := range d.Volumes {
			if vols[v.Name] {
				c.add(PartComponents, joinIndex(path+".volumes", j), "volume %q is declared twice", v.Name)
			}
			vols[v.Name] = true
			if v.Persistent && v.DefaultSize == "" {
				c.add(PartComponents, joinIndex(path+".volumes", j)+".default-size", "a persistent volume needs a default-size, for example 1Gi")
			}
			if v.DefaultSize != "" {
				if _, err := resource.ParseQuantity(v.DefaultSize); err != nil {
					c.add(PartComponents, joinIndex(path+".volumes", j)+".default-size", "%q is not a quantity: %v", v.DefaultSize, err)
				}
			}
		}
		for j, s := range d.Services {
			sp := joinIndex(path+".services", j)
			for k, pn := range s.Ports {
				if !ports[pn] {
					c.add(PartComponents, joinIndex(sp+".ports", k), "port %q is not a port of component %s: expected one of %s", pn, d.Name, names(d.Ports, func(p Port) string { return p.Name }))
				}
			}
			if s.Role != "" && !roles[s.Role] {
				c.add(PartComponents, sp+".role", "role %q is not a role of component %s: expected one of %s", s.Role, d.Name, names(d.Roles, func(r Role) string { return r.Name }))
			}
		}
		if !c.hasPodTemplate(d.PodTemplate) {
			c.add(PartComponents, path+".podtemplate", "pod template %q does not exist in ConfigMap %s: expected one of %s",
				d.PodTemplate, c.pv.Manifest.Refs.PodTemplates, names(c.pv.PodTemplates.Templates, func(t PodTemplate) string { return t.Name }))
		}
		for v := range d.Images {
			if !c.supports(v) {
				c.add(PartComponents, joinKey(path+".images", v), "middleware version %q is not in the manifest's supported-versions (%s)", v, supportedList(c.pv))
			}
		}
		c.checkProbe(path+".status-probe", d, roles)
		c.checkFailover(path+".failover", d.Failover)
		for j, a := range d.Actions {
			if c.pv.Action(a) == nil {
				c.add(PartComponents, joinIndex(path+".actions", j), "action %q is not declared in the actions of ConfigMap %s", a, c.pv.Manifest.Refs.Operations)
			}
		}
	}
	topos := map[string]bool{}
	for i, t := range cs.Topologies {
		path := joinIndex("topologies", i)
		if topos[t.Name] {
			c.add(PartComponents, path+".name", "topology %q is defined twice", t.Name)
		}
		topos[t.Name] = true
		inTopo := map[string]bool{}
		for j, tc := range t.Components {
			tp := joinIndex(path+".components", j)
			if inTopo[tc.Name] {
				c.add(PartComponents, tp+".name", "component %q appears twice in topology %s", tc.Name, t.Name)
			}
			inTopo[tc.Name] = true
			def := defs[tc.Name]
			if def == nil {
				c.add(PartComponents, tp+".name", "unknown component %q in topology %s: expected one of %s", tc.Name, t.Name,
					names(cs.Components, func(d ComponentDef) string { return d.Name }))
				continue
			}
			if tc.Replicas != nil {
				c.checkRange(tp+".replicas", *tc.Replicas)
				if def.Replicas.Min <= def.Replicas.Max && (tc.Replicas.Min < def.Replicas.Min || tc.Replicas.Max > def.Replicas.Max) {
					c.add(PartComponents, tp+".replicas", "range %d..%d is outside component %s's range %d..%d", tc.Replicas.Min, tc.Replicas.Max, def.Name, def.Replicas.Min, def.Replicas.Max)
				}
			}
			if tc.Shards != nil {
				c.checkRange(tp+".shards", *tc.Shards)
				if tc.Shards.Min < 1 {
					c.add(PartComponents, tp+".shards.min", "a sharded component needs at least 1 shard")
				}
			}
			c.checkFailover(tp+".failover", tc.Failover)
			if tc.WorkloadSets == WorkloadSetsPerShard && tc.Shards == nil {
				c.add(PartComponents, tp+".workloadsets", "per-shard needs a shards range")
			}
			if tc.Bootstrap != nil {
				c.checkBootstrap(tp+".bootstrap.action", "bootstrap", tc.Bootstrap.Action, def)
			}
			if tc.Reshard != nil {
				if tc.WorkloadSets != WorkloadSetsPerShard || tc.Bootstrap == nil {
					c.add(PartComponents, tp+".reshard", "reshard needs workloadsets: per-shard and a bootstrap action (it changes the shards of a formed cluster)")
				}
				c.checkBootstrap(tp+".reshard.scaleOut.action", "reshard", tc.Reshard.ScaleOut.Action, def)
				c.checkBootstrap(tp+".reshard.scaleIn.action", "reshard", tc.Reshard.ScaleIn.Action, def)
			}
			for k, st := range tc.Switchover {
				sp := fmt.Sprintf("%s.switchover[%d]", tp, k)
				if st.Target != plinthv1.SwitchoverOnPrimary && st.Target != plinthv1.SwitchoverOnCandidate {
					c.add(PartComponents, sp+".target", "target %q: expected %q or %q", st.Target, plinthv1.SwitchoverOnPrimary, plinthv1.SwitchoverOnCandidate)
				}
				c.checkSwitchover(sp+".action", st.Action, def)
			}
		}
	}
}

// checkSwitchover: the switchover action exists, is served by the
// component's pods and requires no parameter the workloadset-controller
// does not pass.
func (c *checker) checkSwitchover(path, name string, def *ComponentDef) {
	a := c.servedAction(path, name, def)
	if a == nil {
		return
	}
	for _, p := range a.Parameters {
		if p.Required && !slices.Contains(plinthv1.SwitchoverParameters, p.Name) {
			c.add(PartComponents, path, "switchover action %s requires the parameter %q, which the workloadset-controller never passes (it may pass %s)", name, p.Name, strings.Join(plinthv1.SwitchoverParameters, ", "))
		}
	}
}

// servedAction returns the named action when it exists and the component
// serves it, or records why not and returns nil.
func (c *checker) servedAction(path, name string, def *ComponentDef) *Action {
	a := c.pv.Action(name)
	if a == nil {
		c.add(PartComponents, path, "action %q is not declared in the actions of ConfigMap %s: expected one of %s", name, c.pv.Manifest.Refs.Operations,
			names(c.pv.Operations.Actions, func(a Action) string { return a.Name }))
		return nil
	}
	if !slices.Contains(def.Actions, name) {
		c.add(PartComponents, path, "action %q is not among the actions component %s serves: add it to the component's actions so its pods' ops agent runs it", name, def.Name)
	}
	return a
}

// checkBootstrap: the bootstrap (or reshard: kind) action exists, is served
// by the component's pods, declares the parameters the component-controller
// passes and requires no other.
func (c *checker) checkBootstrap(path, kind, name string, def *ComponentDef) {
	a := c.servedAction(path, name, def)
	if a == nil {
		return
	}
	declared := map[string]bool{}
	for _, p := range a.Parameters {
		declared[p.Name] = true
	}
	if n := c.pv.MembersMaxLength(def, name); n > runtimeconfig.MaxParameterLength {
		c.add(PartComponents, path, "%s action %s: the largest topology allows %d pods, whose members list (up to %d bytes each) can exceed the %d bytes the ops agent can pass as one argument: lower the shards or replicas maximum",
			kind, name, n/MaxMemberBytes, MaxMemberBytes, runtimeconfig.MaxParameterLength)
	}
	passed := map[string]bool{}
	for _, n := range BootstrapParameters {
		passed[n] = true
		if !declared[n] {
			c.add(PartComponents, path, "%s action %s must declare the parameter %q (the component-controller passes %s)", kind, name, n, strings.Join(BootstrapParameters, ", "))
		}
	}
	for _, p := range a.Parameters {
		if p.Required && !passed[p.Name] {
			c.add(PartComponents, path, "%s action %s requires the parameter %q, which the component-controller never passes (it passes %s)", kind, name, p.Name, strings.Join(BootstrapParameters, ", "))
		}
	}
}

func (c *checker) checkFailover(path string, f *Failover) {
	if f == nil {
		return
	}
	if f.Delay != "" {
		c.checkDuration(PartComponents, path+".delay", f.Delay)
	}
	if f.Template != "" && c.pv.OperationTemplate(f.Template) == nil {
		c.add(PartComponents, path+".template", "operation template %q does not exist in ConfigMap %s", f.Template, c.pv.Manifest.Refs.Operations)
	}
	if f.Policy == FailoverController && f.Template == "" {
		c.add(PartComponents, path+".template", "policy controller needs the operation template to run, for example Failover")
	}
}

func (c *checker) checkRange(path string, r Range) {
	if r.Min > r.Max {
		c.add(PartComponents, path, "min %d is greater than max %d: expected min <= max", r.Min, r.Max)
		return
	}
	if r.Default < r.Min || r.Default > r.Max {
		c.add(PartComponents, path+".default", "default %d is outside %d..%d", r.Default, r.Min, r.Max)
	}
}

func (c *checker) checkDuration(part Part, path, s string) {
	if _, err := time.ParseDuration(s); err != nil {
		c.add(part, path, "%q is not a duration: expected for example 30s", s)
	}
}

func (c *checker) checkProbe(path string, d *ComponentDef, roles map[string]bool) {
	pr := d.StatusProbe
	c.checkDuration(PartComponents, path+".interval", pr.Interval)
	c.checkDuration(PartComponents, path+".timeout", pr.Timeout)
	roleField := pr.RoleField
	if roleField == "" {
		roleField = "role"
	}
	switch pr.Parser {
	case ParserRegex:
		re, err := regexp.Compile(pr.Regex)
		switch {
		case pr.Regex == "":
			c.add(PartComponents, path+".regex", "the regex parser needs a regex with named groups")
		case err != nil:
			c.add(PartComponents, path+".regex", "the regex does not compile: %v", err)
		default:
			groups := map[string]bool{}
			for _, n := range re.SubexpNames() {
				groups[n] = n != ""
			}
			if !groups[roleField] {
				c.add(PartComponents, path+".role-field", "field %q is not a named group of the regex", roleField)
			}
		}
	default:
		if pr.Regex != "" {
			c.add(PartComponents, path+".regex", "regex is only used by the regex parser")
		}
	}
	if _, err := pr.HeartbeatDuration(); err != nil {
		c.add(PartComponents, path+".heartbeat", "%v", err)
	}
	for k, role := range pr.RoleMap {
		if !roles[role] {
			c.add(PartComponents, joinKey(path+".role-map", k), "maps to %q, which is not a role of component %s: expected one of %s", role, d.Name, names(d.Roles, func(r Role) string { return r.Name }))
		}
	}
	for k, v := range pr.Env {
		if _, err := Render("status-probe.env", v, c.sampleContext(d.Name)); err != nil {
			c.add(PartComponents, joinKey(path+".env", k), "%v", err)
		}
	}
	ctx := c.sampleContext(d.Name)
	for i, arg := range pr.Command {
		if _, err := Render("status-probe", arg, ctx); err != nil {
			c.add(PartComponents, joinIndex(path+".command", i), "%v", err)
		}
	}
}

func (c *checker) hasPodTemplate(name string) bool {
	for _, t := range c.pv.PodTemplates.Templates {
		if t.Name == name {
			return true
		}
	}
	return false
}

func (c *checker) supports(v string) bool {
	for _, sv := range c.pv.Manifest.SupportedVersions {
		if sv.Version == v {
			return true
		}
	}
	return false
}

func (c *checker) podTemplates() {
	seen := map[string]bool{}
	for i, t := range c.pv.PodTemplates.Templates {
		path := joinIndex("templates", i)
		if seen[t.Name] {
			c.add(PartPodTemplates, path+".name", "pod template %q is defined twice", t.Name)
		}
		seen[t.Name] = true
		if _, err := ParseTemplate(t.Name, t.Template); err != nil {
			c.add(PartPodTemplates, path+".template", "%v", cleanTemplateError(err))
			continue
		}
		// Render it for every component that uses it, with that
		// component's defaults, so placeholders are checked.
		for _, d := range c.pv.Components.Components {
			if d.PodTemplate != t.Name {
				continue
			}
			if topo, err := c.renderPerTopology(d.Name, func(ctx *Context) error {
				_, err := renderPodTemplate(&c.pv.PodTemplates.Templates[i], ctx)
				return err
			}); err != nil {
				c.add(PartPodTemplates, path+".template", "rendering for component %s: %v (topology %s)", d.Name, err, topo)
			}
		}
	}
}

func (c *checker) params() {
	seen := map[string]bool{}
	for i, cp := range c.pv.Params.Components {
		path := joinIndex("components", i)
		if seen[cp.Component] {
			c.add(PartParams, path+".component", "component %q has two parameter blocks", cp.Component)
		}
		seen[cp.Component] = true
		if c.pv.Component(cp.Component) == nil {
			c.add(PartParams, path+".component", "unknown component %q: expected one of %s", cp.Component,
				names(c.pv.Components.Components, func(d ComponentDef) string { return d.Name }))
			continue
		}
		c.checkParameters(PartParams, path+".parameters", cp.Parameters, true)
		files := map[string]bool{}
		for j, f := range cp.ConfigFiles {
			fp := joinIndex(path+".config-files", j)
			if files[f.Name] {
				c.add(PartParams, fp+".name", "config file %q is declared twice", f.Name)
			}
			if f.Name == "." || strings.HasPrefix(f.Name, "..") {
				c.add(PartParams, fp+".name", "config file name %q is refused: the files are keys of a ConfigMap mounted as a volume, where . and .. are directories and names starting with .. (..data) are the kubelet's own; use a plain file name such as redis.conf", f.Name)
			} else if len(f.Name) > 253 {
				c.add(PartParams, fp+".name", "config file name is %d characters: a ConfigMap key has at most 253", len(f.Name))
			}
			files[f.Name] = true
			if topo, err := c.renderPerTopology(cp.Component, func(ctx *Context) error {
				_, err := Render(f.Name, f.Template, ctx)
				return err
			}); err != nil {
				c.add(PartParams, fp+".template", "%v (topology %s)", err, topo)
			}
		}
	}
}

// checkParameters checks declarations and that every default satisfies its
// own type and constraint.
func (c *checker) checkParameters(part Part, path string, ps []Parameter, middleware bool) {
	seen := map[string]bool{}
	for i, p := range ps {
		pp := joinIndex(path, i)
		if seen[p.Name] {
			c.add(part, pp+".name", "parameter %q is declared twice", p.Name)
		}
		seen[p.Name] = true
		if p.Type == TypeEnum && len(p.Values) == 0 {
			c.add(part, pp+".values", "an enum needs its allowed values")
		}
		if p.Type != TypeEnum && len(p.Values) > 0 {
			c.add(part, pp+".values", "values are only used by type enum (this is %s): use a constraint instead", p.Type)
		}
		if p.Pattern != "" {
			if _, err := regexp.Compile(p.Pattern); err != nil {
				c.add(part, pp+".pattern", "the pattern does not compile: %v", err)
			}
		}
		if p.Constraint != "" {
			if err := checkConstraint(p.Constraint); err != nil {
				c.add(part, pp+".constraint", "%v", err)
				continue
			}
			if v := c.ctx.CompileString(p.Constraint); v.Err() != nil {
				c.add(part, pp+".constraint", "not a valid CUE expression: %s", oneLine(v.Err()))
				continue
			}
		}
		if p.Dynamic && !middleware {
			c.add(part, pp+".dynamic", "dynamic only applies to middleware parameters")
		}
		if p.Default != nil {
			if err := checkValue(c.ctx, p, *p.Default); err != nil {
				c.add(part, pp+".default", "the default is invalid: %v", err)
			}
			if p.Required {
				c.add(part, pp+".required", "a required parameter cannot have a default")
			}
		}
	}
}

var (
	grpcMethods = map[string][]string{
		TargetOpsAgent: {"Execute", "Status"},
		TargetProcmgr:  {"Status", "Start", "Stop", "Restart", "Reload", "Signal"},
	}
)

// actionParameterName is what the ops agent accepts as an action parameter name.
var actionParameterName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (c *checker) operations() {
	ops := c.pv.Operations
	actions := map[string]bool{}
	for i, a := range ops.Actions {
		path := joinIndex("actions", i)
		if actions[a.Name] {
			c.add(PartOperations, path+".name", "action %q is declared twice", a.Name)
		}
		actions[a.Name] = true
		c.checkDuration(PartOperations, path+".timeout", a.Timeout)
		c.checkParameters(PartOperations, path+".parameters", a.Parameters, false)
		for k, p := range a.Parameters {
			// The ops agent exposes them to templates as .Args.<name>.
			if !actionParameterName.MatchString(p.Name) {
				c.add(PartOperations, joinIndex(path+".parameters", k)+".name", "action parameter %q: expected a Go identifier (letters, digits, underscore; for example candidateHost)", p.Name)
			}
		}
		// Render the argv in the context of every component serving it.
		users := []string{}
		for _, d := range c.pv.Components.Components {
			for _, name := range d.Actions {
				if name == a.Name {
					users = append(users, d.Name)
				}
			}
		}
		if len(users) == 0 {
			users = append(users, "")
		}
		for _, comp := range users {
			ctx := c.sampleContext(comp)
			ctx.Args = sampleArgs(a.Parameters)
			for j, arg := range a.Command {
				if _, err := Render(a.Name, arg, ctx); err != nil {
					c.add(PartOperations, joinIndex(path+".command", j), "%v", err)
				}
			}
		}
	}
	seen := map[string]bool{}
	for i, t := range ops.Templates {
		path := joinIndex("templates", i)
		if seen[t.Name] {
			c.add(PartOperations, path+".name", "operation template %q is defined twice", t.Name)
		}
		seen[t.Name] = true
		if t.Timeout != "" {
			c.checkDuration(PartOperations, path+".timeout", t.Timeout)
		}
		c.checkParameters(PartOperations, path+".parameters", t.Parameters, false)
		steps := map[string]bool{}
		for j, st := range t.Steps {
			sp := joinIndex(path+".steps", j)
			if steps[st.Name] {
				c.add(PartOperations, sp+".name", "step %q appears twice in %s: step names must be unique (they key the Operation's status)", st.Name, t.Name)
			}
			steps[st.Name] = true
			c.checkStep(sp, st, t, t.Steps[:j])
		}
	}
}

func (c *checker) checkStep(path string, st Step, t OperationTemplate, earlier []Step) {
	c.checkDuration(PartOperations, path+".timeout", st.Timeout)
	blocks := map[string]bool{StepPatch: st.Patch != nil, StepResource: st.Resource != nil, StepGRPC: st.GRPC != nil, StepWait: st.Wait != nil, StepSwitchover: st.Switchover != nil}
	for typ, set := range blocks {
		if typ == st.Type && !set {
			c.add(PartOperations, path, "a %s step needs a %s block", st.Type, st.Type)
		}
		if typ != st.Type && set {
			c.add(PartOperations, path+"."+typ, "a %s block in a %s step: a step has only the block of its type", typ, st.Type)
		}
	}
	// Render the step with sample arguments: every placeholder must resolve,
	// and the checks below look at what the operation-controller would get.
	ctx := c.sampleContext("")
	ctx.Args = sampleArgs(t.Parameters)
	r, _, err := renderStep(st, ctx)
	if err != nil {
		c.add(PartOperations, path, "%v", err)
		return
	}
	switch {
	case st.Type == StepGRPC && st.GRPC != nil:
		c.checkGRPC(path+".grpc", st.GRPC, r.GRPC, t, earlier)
	case st.Type == StepPatch && st.Patch != nil:
		c.checkPatch(path+".patch", r.Patch, t)
	case st.Type == StepResource && st.Resource != nil:
		c.checkResource(path+".resource", r.Resource, t)
	case st.Type == StepWait && st.Wait != nil:
		c.checkWait(path+".wait", r.Wait, t)
	case st.Type == StepSwitchover && st.Switchover != nil:
		c.checkSwitchoverStep(path+".switchover", st.Switchover, r.Switchover, t)
	}
}

// stepComponent resolves the component a step names. A literal name must
// be a component; a placeholder is checked through its sample rendering
// (the parameter's default) only when that names a component, since a
// required parameter renders to a sample value. ok is false when there is
// nothing to check against.
func (c *checker) stepComponent(path, raw, rendered string) (def *ComponentDef, ok bool) {
	def = c.pv.Component(rendered)
	if def == nil && !strings.Contains(raw, "{{") {
		c.add(PartOperations, path, "unknown component %q: expected one of %s", raw,
			names(c.pv.Components.Components, func(d ComponentDef) string { return d.Name }))
	}
	return def, def != nil
}

func (c *checker) checkGRPC(path string, g, r *GRPCStep, t OperationTemplate, earlier []Step) {
	if !slices.Contains(grpcMethods[g.Target], g.Method) {
		c.add(PartOperations, path+".method", "%s has no method %s: expected one of %s", g.Target, g.Method, strings.Join(grpcMethods[g.Target], ", "))
	}
	def, known := c.stepComponent(path+".selector.component", g.Selector.Component, r.Selector.Component)
	if g.Target == TargetOpsAgent && g.Method == "Execute" {
		a := c.pv.Action(g.Action)
		if a == nil {
			c.add(PartOperations, path+".action", "action %q is not declared in this ConfigMap's actions: expected one of %s", g.Action,
				names(c.pv.Operations.Actions, func(a Action) string { return a.Name }))
		} else {
			declared := map[string]bool{}
			for _, p := range a.Parameters {
				declared[p.Name] = true
				if _, given := g.Args[p.Name]; p.Required && !given {
					c.add(PartOperations, path+".args", "action %s needs the argument %q", a.Name, p.Name)
				}
			}
			for k := range g.Args {
				if !declared[k] {
					c.add(PartOperations, joinKey(path+".args", k), "action %s has no parameter %q", a.Name, k)
				}
			}
			if known && !slices.Contains(def.Actions, a.Name) {
				c.cannotRun(t, path+".action", "action %q is not among the actions component %s serves (%s): its pods' ops agent would refuse it; add it to the component's actions in ConfigMap %s",
					a.Name, def.Name, strings.Join(def.Actions, ", "), c.pv.Manifest.Refs.Components)
			}
		}
	} else if g.Action != "" || len(g.Args) > 0 {
		c.add(PartOperations, path+".action", "action and args are only used with target ops-agent, method Execute")
	}
	if known && r.Selector.Role != "" && !slices.ContainsFunc(def.Roles, func(x Role) bool { return x.Name == r.Selector.Role }) {
		c.add(PartOperations, path+".selector.role", "role %q is not a role of component %s: expected one of %s", r.Selector.Role, def.Name,
			names(def.Roles, func(r Role) string { return r.Name }))
	}
	for i, ex := range r.Selector.Exclude {
		ep := joinIndex(path+".selector.exclude", i)
		j := slices.IndexFunc(earlier, func(s Step) bool { return s.Name == ex })
		switch {
		case j < 0 && slices.ContainsFunc(t.Steps, func(s Step) bool { return s.Name == ex }):
			c.cannotRun(t, ep, "step %q comes at or after this step in %s: exclude names earlier steps (whose pods are not chosen again)", ex, t.Name)
		case j < 0:
			c.cannotRun(t, ep, "%s has no step %q: exclude names earlier steps of the same template (%s)", t.Name, ex,
				names(earlier, func(s Step) string { return s.Name }))
		case earlier[j].Type != StepGRPC && earlier[j].Type != StepSwitchover:
			c.cannotRun(t, ep, "step %q is a %s step, which calls no pod: exclude names earlier grpc or switchover steps", ex, earlier[j].Type)
		}
	}
}

// checkPatch decodes the rendered merge strictly into the API type of the
// kind: a field the type does not have is refused with its path (the API
// server would drop it or refuse the patch).
func (c *checker) checkPatch(path string, r *PatchStep, t OperationTemplate) {
	target := patchTargets[r.Kind]
	if target == nil {
		return // the schema lists the kinds
	}
	raw, err := yaml.YAMLToJSON([]byte(r.Merge))
	if err == nil {
		var m map[string]any
		if err = json.Unmarshal(raw, &m); err == nil && m == nil {
			err = fmt.Errorf("the merge is empty")
		}
	}
	if err != nil {
		c.add(PartOperations, path+".merge", "not a YAML mapping: %v", err)
		return
	}
	c.strictDecode(path+".merge", r.Kind, raw, target(), t)
}

// strictDecode decodes raw into obj (the API type of kind), refusing
// unknown and duplicate fields, and reports each with its path.
func (c *checker) strictDecode(path, kind string, raw []byte, obj any, t OperationTemplate) {
	strict, err := sigsjson.UnmarshalStrict(raw, obj)
	if err != nil {
		c.cannotRun(t, path, "does not decode into a %s %s (rendered with sample arguments): %v", apiGroupVersion, kind, err)
		return
	}
	for _, e := range strict {
		c.cannotRun(t, path, "%s %s has no such field (rendered with sample arguments): %v", apiGroupVersion, kind, e)
	}
}

var apiGroupVersion = plinthv1.GroupVersion.String()

// patchTargets are the kinds a patch step may change and their API types.
var patchTargets = map[string]func() any{
	"Application": func() any { return &plinthv1.Application{} },
	"Component":   func() any { return &plinthv1.Component{} },
	"WorkloadSet": func() any { return &plinthv1.WorkloadSet{} },
}

// plinthKinds are the API types of the plinth kinds a resource step may
// apply or delete.
var plinthKinds = map[string]func() any{
	"Application":    func() any { return &plinthv1.Application{} },
	"Component":      func() any { return &plinthv1.Component{} },
	"WorkloadSet":    func() any { return &plinthv1.WorkloadSet{} },
	"Operation":      func() any { return &plinthv1.Operation{} },
	"Backup":         func() any { return &plinthv1.Backup{} },
	"BackupSchedule": func() any { return &plinthv1.BackupSchedule{} },
}

// checkResource decodes a rendered manifest of a plinth kind strictly into
// its API type, like checkPatch: the API server would refuse a field the
// type does not have.
func (c *checker) checkResource(path string, r *ResourceStep, t OperationTemplate) {
	raw, err := yaml.YAMLToJSON([]byte(r.Manifest))
	if err != nil {
		c.add(PartOperations, path+".manifest", "not a YAML object: %v", err)
		return
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(raw, &head); err != nil || head.APIVersion == "" || head.Kind == "" {
		c.add(PartOperations, path+".manifest", "expected one Kubernetes object with apiVersion and kind")
		return
	}
	if head.APIVersion != apiGroupVersion {
		return
	}
	target := plinthKinds[head.Kind]
	if target == nil {
		c.cannotRun(t, path+".manifest", "%s has no kind %q: expected one of %s", apiGroupVersion, head.Kind, strings.Join(slices.Sorted(maps.Keys(plinthKinds)), ", "))
		return
	}
	c.strictDecode(path+".manifest", head.Kind, raw, target(), t)
}

// checkWait: the kind is one a wait step may watch, and the condition (or
// phase) is one the platform sets on it; waiting for anything else would
// only end at the step's timeout.
func (c *checker) checkWait(path string, w *WaitStep, t OperationTemplate) {
	conds, known := plinthv1.WaitableConditions[w.Kind]
	if !known {
		c.cannotRun(t, path+".kind", "kind %q cannot be waited for (condition %q, phase %q): expected one of %s", w.Kind, w.Condition, w.Phase, strings.Join(slices.Sorted(maps.Keys(plinthv1.WaitableConditions)), ", "))
		return
	}
	phases := plinthv1.WaitablePhases[w.Kind]
	switch {
	case w.Condition == "" && w.Phase == "":
		c.cannotRun(t, path, "a wait step needs a condition (%s sets %s) or a phase (%s)", w.Kind, strings.Join(conds, ", "), strings.Join(phases, ", "))
	case w.Condition != "" && w.Phase != "":
		c.cannotRun(t, path, "a wait step waits for a condition or a phase, not both (condition %q, phase %q)", w.Condition, w.Phase)
	case w.Phase != "":
		if !slices.Contains(phases, w.Phase) {
			c.cannotRun(t, path+".phase", "%s has no phase %q: expected one of %s", w.Kind, w.Phase, strings.Join(phases, ", "))
		}
		if w.Status != "" || w.Reason != "" {
			c.cannotRun(t, path, "status and reason go with a condition, not with a phase")
		}
	default:
		if !slices.Contains(conds, w.Condition) {
			c.cannotRun(t, path+".condition", "the platform never sets condition %q on %s objects: expected one of %s (or wait for a phase: %s)", w.Condition, w.Kind, strings.Join(conds, ", "), strings.Join(phases, ", "))
		}
	}
}

// checkSwitchoverStep: the component declares switchover actions in at
// least one topology (elsewhere the step has nothing to run).
func (c *checker) checkSwitchoverStep(path string, s, r *SwitchoverOp, t OperationTemplate) {
	def, known := c.stepComponent(path+".component", s.Component, r.Component)
	if !known {
		return
	}
	for _, t := range c.pv.Components.Topologies {
		for _, tc := range t.Components {
			if tc.Name == def.Name && len(tc.Switchover) > 0 {
				return
			}
		}
	}
	c.cannotRun(t, path+".component", "component %s declares no switchover actions in any topology (components.yaml, topologies[].components[].switchover): a switchover step has nothing to run", def.Name)
}

// renderPerTopology calls render with the component's sample context once
// per topology that uses the component (templates may branch on .Topology),
// or once with the sample topology when none does. It returns the first
// failure and the topology it happened in.
func (c *checker) renderPerTopology(component string, render func(*Context) error) (string, error) {
	var topos []string
	for _, t := range c.pv.Components.Topologies {
		if slices.ContainsFunc(t.Components, func(tc TopologyComponent) bool { return tc.Name == component }) {
			topos = append(topos, t.Name)
		}
	}
	if len(topos) == 0 {
		topos = append(topos, "sample")
	}
	for _, topo := range topos {
		ctx := c.sampleContext(component)
		ctx.Topology = topo
		if err := render(ctx); err != nil {
			return topo, err
		}
	}
	return "", nil
}

// sampleContext is the context lint renders templates with: every field set,
// Params are the component's defaults.
func (c *checker) sampleContext(component string) *Context {
	ctx := &Context{
		Plugin:      PluginRef{Name: c.pv.Manifest.Plugin, Version: c.pv.Manifest.Version},
		Application: ObjectRef{Name: "sample", Namespace: "default"},
		Component:   ComponentRef{Name: "sample-" + component, Def: component, Replicas: 3, Shards: 3},
		WorkloadSet: WorkloadSetRef{Name: "sample-" + component + "-0", Shard: 0, Replicas: 3},
		Pod:         PodRef{Name: "sample-" + component + "-0-0", Ordinal: 0, Role: "unknown"},
		Topology:    "sample",
		Params:      map[string]string{},
		Args:        map[string]string{},
		Ports:       map[string]int32{},
		Secrets:     SecretsRef{Credentials: "sample-credentials", TLS: "sample-tls", AgentTLS: "sample-agent-tls"},
		Platform:    PlatformRef{Image: "ghcr.io/plinth-io/plinth:sample", Namespace: "plinth-system", BinDir: "/plinth/bin"},
	}
	if len(c.pv.Manifest.SupportedVersions) > 0 {
		ctx.Version = c.pv.Manifest.SupportedVersions[0].Version
		ctx.Image = c.pv.Manifest.SupportedVersions[0].Image
	}
	for _, cp := range c.pv.Params.Components {
		if cp.Component == component {
			for _, p := range cp.Parameters {
				if p.Default != nil {
					ctx.Params[p.Name] = *p.Default
				}
			}
		}
	}
	if d := c.pv.Component(component); d != nil {
		for _, p := range d.Ports {
			ctx.Ports[p.Name] = p.Port
		}
	}
	return ctx
}

// sampleArgs gives every declared parameter a value of its type.
func sampleArgs(ps []Parameter) map[string]string {
	out := map[string]string{}
	for _, p := range ps {
		switch {
		case p.Default != nil:
			out[p.Name] = *p.Default
		case p.Type == TypeInt:
			out[p.Name] = "1"
		case p.Type == TypeBool:
			out[p.Name] = "true"
		case p.Type == TypeEnum && len(p.Values) > 0:
			out[p.Name] = p.Values[0]
		case p.Type == TypeDuration:
			out[p.Name] = "1s"
		case p.Type == TypeQuantity:
			out[p.Name] = "1Gi"
		default:
			out[p.Name] = "sample"
		}
	}
	return out
}

func names[T any](items []T, name func(T) string) string {
	var out []string
	for _, it := range items {
		out = append(out, name(it))
	}
	if len(out) == 0 {
		return "(none)"
	}
	return strings.Join(out, ", ")
}
