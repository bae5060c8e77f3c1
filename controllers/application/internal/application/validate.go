package application

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/naming"
	"github.com/plinth-io/plinth/pluginregistry"
)

// resolved is one component of the Application's topology with every default
// resolved from the plugin version: what desiredComponent turns into a
// Component.
type resolved struct {
	// Def is the plugin's component definition.
	Def *pluginregistry.ComponentDef
	// Placement is the component's place in the topology.
	Placement *pluginregistry.TopologyComponent
	// Settings are the user's settings for this component (zero when the
	// Application does not list it).
	Settings plinthv1.ApplicationComponent
	Replicas int32
	// Shards is 1 unless the topology shards the component.
	Shards  int32
	Image   string
	Storage *plinthv1.StorageSpec
	// Params are the validated parameters merged over the plugin's defaults.
	Params map[string]string
}

// invalid says why an Application cannot be (further) created: every problem
// found, and the condition reason of the first.
type invalid struct {
	Reason   string
	Problems []string
}

func (e *invalid) add(reason, format string, args ...any) {
	if e.Reason == "" {
		e.Reason = reason
	}
	e.Problems = append(e.Problems, fmt.Sprintf(format, args...))
}

func (e *invalid) empty() bool { return len(e.Problems) == 0 }

// Error is the condition message: every problem, each saying how to fix it.
func (e *invalid) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0]
	}
	return fmt.Sprintf("%d problems: %s", len(e.Problems), strings.Join(e.Problems, "; "))
}

// plan validates app against its pinned plugin version pv and resolves each
// topology component. running is the plugin version the Application runs now
// (status.pluginVersion, or the one handed to its Components before it first
// ran) when it differs from the pinned one, else nil: the change must then be
// an allowed upgrade. runningVersion is likewise the middleware version a
// change of spec.version starts from ("" when nothing was created yet). It
// returns every problem at once.
func plan(app *plinthv1.Application, pv, running *pluginregistry.PluginVersion, runningVersion string) ([]resolved, *invalid) {
	bad := &invalid{}
	spec := &app.Spec
	where := pv.Name() + " " + pv.Version()

	if running != nil {
		if err := pluginregistry.CanUpgradePlugin(running, pv); err != nil {
			bad.add(plinthv1.ReasonUpgradeNotAllowed, "spec.pluginVersion cannot change from %s to %s: %v; set it back to %s", running.Version(), pv.Version(), err, running.Version())
		}
	}
	versionOK := supports(pv, spec.Version)
	if !versionOK {
		bad.add(plinthv1.ReasonUnsupportedVersion, "spec.version %q is not supported by plugin %s; set it to one of: %s", spec.Version, where, strings.Join(supportedVersions(pv), ", "))
	} else if from := runningVersion; from != "" && from != spec.Version {
		if err := pluginregistry.CanUpgradeMiddleware(pv, from, spec.Version); err != nil {
			bad.add(plinthv1.ReasonUpgradeNotAllowed, "spec.version cannot change from %s to %s: %v; set it back to %s", from, spec.Version, err, from)
		}
	}

	topo := pv.Topology(spec.Topology)
	if topo == nil {
		bad.add(plinthv1.ReasonTopologyNotFound, "spec.topology %q is not a topology of plugin %s; use one of: %s", spec.Topology, where, strings.Join(topologyNames(pv), ", "))
		return nil, bad
	}

	settings := map[string]plinthv1.ApplicationComponent{}
	inTopology := map[string]bool{}
	for _, tc := range topo.Components {
		inTopology[tc.Name] = true
	}
	for _, c := range spec.Components {
		if !inTopology[c.Name] {
			bad.add(plinthv1.ReasonInvalidComponents, "spec.components[%s]: topology %s of plugin %s has no component %q; its components are: %s", c.Name, topo.Name, where, c.Name, strings.Join(sortedKeys(inTopology), ", "))
			continue
		}
		settings[c.Name] = c
	}

	out := make([]resolved, 0, len(topo.Components))
	for i := range topo.Components {
		r, ok := resolve(app, pv, &topo.Components[i], settings[topo.Components[i].Name], versionOK, bad)
		if ok {
			out = append(out, r)
		}
	}
	if !bad.empty() {
		return nil, bad
	}
	return out, nil
}

// resolve checks one topology component and resolves its defaults; problems
// go to bad.
func resolve(app *plinthv1.Application, pv *pluginregistry.PluginVersion, tc *pluginregistry.TopologyComponent, c plinthv1.ApplicationComponent, versionOK bool, bad *invalid) (resolved, bool) {
	field := "spec.components[" + tc.Name + "]"
	def := pv.Component(tc.Name)
	if def == nil {
		bad.add(plinthv1.ReasonPluginInvalid, "plugin %s %s: topology %s names component %q, which it does not define; report this to the plugin's authors", pv.Name(), pv.Version(), app.Spec.Topology, tc.Name)
		return resolved{}, false
	}
	r := resolved{Def: def, Placement: tc, Settings: c, Shards: 1}
	ok := true

	replicas := def.Replicas
	if tc.Replicas != nil {
		replicas = *tc.Replicas
	}
	r.Replicas = replicas.Default
	if c.Replicas != nil {
		r.Replicas = *c.Replicas
		if r.Replicas < replicas.Min || r.Replicas > replicas.Max {
			bad.add(plinthv1.ReasonInvalidComponents, "%s.replicas %d is out of range: topology %s allows %s; set replicas within it", field, r.Replicas, app.Spec.Topology, rangeText(replicas))
			ok = false
		}
	}

	switch {
	case tc.Shards == nil && c.Shards != nil:
		bad.add(plinthv1.ReasonInvalidComponents, "%s.shards: topology %s does not shard component %s; remove shards", field, app.Spec.Topology, tc.Name)
		ok = false
	case tc.Shards != nil:
		r.Shards = tc.Shards.Default
		if c.Shards != nil {
			r.Shards = *c.Shards
			if r.Shards < tc.Shards.Min || r.Shards > tc.Shards.Max {
				bad.add(plinthv1.ReasonInvalidComponents, "%s.shards %d is out of range: topology %s allows %s; set shards within it", field, r.Shards, app.Spec.Topology, rangeText(*tc.Shards))
				ok = false
			}
		}
	}

	if err := naming.CheckComponent(app.Name, def.Name, r.Shards); err != nil {
		bad.add(plinthv1.ReasonInvalidComponents, "%v", err)
		ok = false
	}

	storage, err := resolveStorage(def, c.Storage)
	if err != nil {
		bad.add(plinthv1.ReasonInvalidComponents, "%s.storage: %v", field, err)
		ok = false
	}
	r.Storage = storage

	params, err := pluginregistry.ValidateParameters(pv, def.Name, c.Parameters)
	if err != nil {
		var perr *pluginregistry.ParametersError
		if errors.As(err, &perr) {
			bad.add(plinthv1.ReasonInvalidParameters, "%s.parameters: %v", field, err)
		} else {
			bad.add(plinthv1.ReasonPluginInvalid, "%s.parameters: %v", field, err)
		}
		ok = false
	}
	r.Params = params

	if versionOK {
		img, err := pluginregistry.Image(pv, def.Name, app.Spec.Version)
		if err != nil {
			bad.add(plinthv1.ReasonUnsupportedVersion, "%s: %v", field, err)
			ok = false
		}
		r.Image = img
	}
	return r, ok
}

// resolveStorage returns the data volume of a component: the user's, or the
// plugin's default size for its persistent volume. A component without a
// persistent volume takes no storage.
func resolveStorage(def *pluginregistry.ComponentDef, user *plinthv1.StorageSpec) (*plinthv1.StorageSpec, error) {
	var vol *pluginregistry.Volume
	for i := range def.Volumes {
		if def.Volumes[i].Persistent {
			vol = &def.Volumes[i]
			break
		}
	}
	if vol == nil {
		if user != nil {
			return nil, fmt.Errorf("component %s keeps no data on a persistent volume; remove storage", def.Name)
		}
		return nil, nil
	}
	if user != nil {
		return user.DeepCopy(), nil
	}
	if vol.DefaultSize == "" {
		return nil, fmt.Errorf("the plugin gives volume %s of component %s no default size; set storage.size, for example 10Gi", vol.Name, def.Name)
	}
	size, err := resource.ParseQuantity(vol.DefaultSize)
	if err != nil {
		return nil, fmt.Errorf("the plugin's default size %q of volume %s is not a quantity; set storage.size, for example 10Gi", vol.DefaultSize, vol.Name)
	}
	return &plinthv1.StorageSpec{Size: size}, nil
}

func supports(pv *pluginregistry.PluginVersion, version string) bool {
	for _, sv := range pv.Manifest.SupportedVersions {
		if sv.Version == version {
			return true
		}
	}
	return false
}

func supportedVersions(pv *pluginregistry.PluginVersion) []string {
	out := make([]string, 0, len(pv.Manifest.SupportedVersions))
	for _, sv := range pv.Manifest.SupportedVersions {
		out = append(out, sv.Version)
	}
	return out
}

func topologyNames(pv *pluginregistry.PluginVersion) []string {
	out := make([]string, 0, len(pv.Components.Topologies))
	for _, t := range pv.Components.Topologies {
		out = append(out, t.Name)
	}
	return out
}

func rangeText(r pluginregistry.Range) string {
	if r.Min == r.Max {
		return fmt.Sprintf("exactly %d", r.Min)
	}
	return fmt.Sprintf("%d to %d", r.Min, r.Max)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
