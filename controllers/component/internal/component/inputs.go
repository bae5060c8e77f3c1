package component

import (
	"fmt"
	"sort"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/naming"
	"github.com/plinth-io/plinth/pluginregistry"
)

// Platform describes the Plinth installation the pods get their binaries from.
// The Plinth image itself is not here: templates name the placeholder
// plinthv1.PlatformImage, which the workloadset-controller resolves per pod.
type Platform struct {
	// Namespace is the platform namespace.
	Namespace string
	// BinDir is where the init container copies the binaries.
	BinDir string
}

// inputs is everything the desired* functions read.
type inputs struct {
	comp     *plinthv1.Component
	pv       *pluginregistry.PluginVersion
	def      *pluginregistry.ComponentDef
	topo     *pluginregistry.TopologyComponent
	platform Platform
}

func newInputs(comp *plinthv1.Component, pv *pluginregistry.PluginVersion, platform Platform) (*inputs, error) {
	def := pv.Component(comp.Spec.ComponentDef)
	if def == nil {
		return nil, fmt.Errorf("plugin %s %s has no component %q", pv.Name(), pv.Version(), comp.Spec.ComponentDef)
	}
	topo := pv.Topology(comp.Spec.Topology)
	if topo == nil {
		return nil, fmt.Errorf("plugin %s %s has no topology %q", pv.Name(), pv.Version(), comp.Spec.Topology)
	}
	var tc *pluginregistry.TopologyComponent
	for i := range topo.Components {
		if topo.Components[i].Name == def.Name {
			tc = &topo.Components[i]
		}
	}
	if tc == nil {
		return nil, fmt.Errorf("topology %q of plugin %s %s has no component %q", topo.Name, pv.Name(), pv.Version(), def.Name)
	}
	return &inputs{comp: comp, pv: pv, def: def, topo: tc, platform: platform}, nil
}

// sharded reports whether the component has one WorkloadSet per shard.
func (in *inputs) sharded() bool { return in.topo.WorkloadSets == pluginregistry.WorkloadSetsPerShard }

// shards is the number of WorkloadSets.
func (in *inputs) shards() int32 {
	if !in.sharded() || in.comp.Spec.Shards < 1 {
		return 1
	}
	return in.comp.Spec.Shards
}

// workloadSetNames lists the WorkloadSets in shard order.
func (in *inputs) workloadSetNames() []string {
	if !in.sharded() {
		return []string{naming.WorkloadSet(in.comp.Name, -1)}
	}
	names := make([]string, 0, in.shards())
	for s := int32(0); s < in.shards(); s++ {
		names = append(names, naming.WorkloadSet(in.comp.Name, s))
	}
	return names
}

// podNames lists every pod the component should have (for the agents' Role).
func (in *inputs) podNames() []string {
	var pods []string
	for _, ws := range in.workloadSetNames() {
		for o := int32(0); o < in.comp.Spec.Replicas; o++ {
			pods = append(pods, naming.Pod(ws, o))
		}
	}
	sort.Strings(pods)
	return pods
}

// ports maps the component's port names to numbers.
func (in *inputs) ports() map[string]int32 {
	m := make(map[string]int32, len(in.def.Ports))
	for _, p := range in.def.Ports {
		m[p.Name] = p.Port
	}
	return m
}

// image is the middleware image for the component's version.
func (in *inputs) image() string {
	if in.comp.Spec.Image != "" {
		return in.comp.Spec.Image
	}
	if img, ok := in.def.Images[in.comp.Spec.Version]; ok {
		return img
	}
	for _, v := range in.pv.Manifest.SupportedVersions {
		if v.Version == in.comp.Spec.Version {
			return v.Image
		}
	}
	return ""
}

// headlessService is the Service that gives pods stable DNS names: the
// plugin's headless Service if it declares one, else <component>-headless.
func (in *inputs) headlessService() string {
	for _, s := range in.def.Services {
		if s.Headless {
			return naming.RoleService(in.comp.Name, s.Name)
		}
	}
	return naming.HeadlessService(in.comp.Name)
}

// writableRole is the role that accepts writes, if any.
func (in *inputs) writableRole() string {
	for _, r := range in.def.Roles {
		if r.Writable {
			return r.Name
		}
	}
	return ""
}

// context is the template context for shard (or -1 at component level).
func (in *inputs) context(shard int32, wsName string) pluginregistry.Context {
	c := in.comp
	return pluginregistry.Context{
		Plugin:      pluginregistry.PluginRef{Name: in.pv.Name(), Version: in.pv.Version()},
		Application: pluginregistry.ObjectRef{Name: c.Spec.Application, Namespace: c.Namespace},
		Component:   pluginregistry.ComponentRef{Name: c.Name, Def: c.Spec.ComponentDef, Replicas: c.Spec.Replicas, Shards: in.shards()},
		WorkloadSet: pluginregistry.WorkloadSetRef{Name: wsName, Shard: max(shard, 0), Replicas: c.Spec.Replicas},
		Topology:    c.Spec.Topology,
		Version:     c.Spec.Version,
		// Official names: the workloadset-controller rewrites images when it
		// creates pods, after hashing the template.
		Image:  in.image(),
		Params: c.Spec.Parameters,
		Args:   map[string]string{},
		Ports:  in.ports(),
		Secrets: pluginregistry.SecretsRef{
			Credentials: c.Spec.CredentialsSecret,
			AgentTLS:    naming.AgentTLSSecret(c.Name),
		},
		Platform: pluginregistry.PlatformRef{
			Image:     plinthv1.PlatformImage,
			Namespace: in.platform.Namespace,
			BinDir:    in.platform.BinDir,
		},
	}
}

// labels are set on every child of the component.
func (in *inputs) labels() map[string]string {
	return map[string]string{
		plinthv1.LabelApplication: in.comp.Spec.Application,
		plinthv1.LabelComponent:   in.comp.Name,
		plinthv1.LabelManagedBy:   "plinth",
	}
}

// selector selects the component's pods.
func (in *inputs) selector() map[string]string {
	return map[string]string{plinthv1.LabelComponent: in.comp.Name}
}
