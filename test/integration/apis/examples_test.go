package apis_test

import (
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/pluginregistry"
)

// missingFrom lists the paths of want (a value read from an example) that
// got (the object the server stored) does not hold with the same value. got
// may hold more: defaults, fields the server sets.
func missingFrom(got, want any, path string) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s (stored %v)", path, got)}
		}
		var out []string
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				out = append(out, path+"."+k+" (dropped)")
				continue
			}
			out = append(out, missingFrom(gv, wv, path+"."+k)...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s (stored %v)", path, got)}
		}
		var out []string
		for i := range w {
			out = append(out, missingFrom(g[i], w[i], fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	default:
		if !reflect.DeepEqual(number(got), number(want)) {
			return []string{fmt.Sprintf("%s (wrote %v, stored %v)", path, want, got)}
		}
		return nil
	}
}

// number makes the int64 of a stored object and the float64 of YAML read
// through JSON comparable.
func number(v any) any {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case int:
		return float64(n)
	}
	return v
}

// fieldPaths lists the paths at which the field key appears anywhere in v.
func fieldPaths(v any, key, path string) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			if k == key {
				out = append(out, path+"."+k)
			}
			out = append(out, fieldPaths(child, key, path+"."+k)...)
		}
	case []any:
		for i, child := range x {
			out = append(out, fieldPaths(child, key, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return out
}

// planProblems checks app against the plugin version folder it pins, the
// way the application-controller will: the middleware version is
// supported, the topology exists, each listed component is one of the
// topology's with its replicas and shards in range, and its parameters
// pass the plugin's constraints.
func planProblems(t *testing.T, app *plinthv1.Application) []string {
	t.Helper()
	src, err := pluginregistry.FromFolder(filepath.Join(env.Root, "plugins", app.Spec.Plugin, app.Spec.PluginVersion), "plinth-system")
	if err != nil {
		return []string{err.Error()}
	}
	pv, err := pluginregistry.Build(src.Plugin, src.Version, src.ConfigMaps)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	if !slices.ContainsFunc(pv.Manifest.SupportedVersions, func(v pluginregistry.SupportedVersion) bool { return v.Version == app.Spec.Version }) {
		problems = append(problems, fmt.Sprintf("version %q is not supported", app.Spec.Version))
	}
	topo := pv.Topology(app.Spec.Topology)
	if topo == nil {
		return append(problems, fmt.Sprintf("no topology %q", app.Spec.Topology))
	}
	for _, c := range app.Spec.Components {
		i := slices.IndexFunc(topo.Components, func(tc pluginregistry.TopologyComponent) bool { return tc.Name == c.Name })
		def := pv.Component(c.Name)
		if i < 0 || def == nil {
			problems = append(problems, fmt.Sprintf("topology %s has no component %q", topo.Name, c.Name))
			continue
		}
		tc := topo.Components[i]
		replicas := def.Replicas
		if tc.Replicas != nil {
			replicas = *tc.Replicas
		}
		if c.Replicas != nil && (*c.Replicas < replicas.Min || *c.Replicas > replicas.Max) {
			problems = append(problems, fmt.Sprintf("%s: replicas %d outside [%d, %d]", c.Name, *c.Replicas, replicas.Min, replicas.Max))
		}
		switch {
		case c.Shards != nil && tc.Shards == nil:
			problems = append(problems, fmt.Sprintf("%s: shards set, but topology %s does not shard it", c.Name, topo.Name))
		case c.Shards != nil && (*c.Shards < tc.Shards.Min || *c.Shards > tc.Shards.Max):
			problems = append(problems, fmt.Sprintf("%s: shards %d outside [%d, %d]", c.Name, *c.Shards, tc.Shards.Min, tc.Shards.Max))
		}
		if _, err := pluginregistry.ValidateParameters(pv, c.Name, c.Parameters); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", c.Name, err))
		}
	}
	return problems
}

// operationProblems checks an example Operation against the template it
// names in the plugin version its target (an example Application) pins: the
// template exists, can run, and declares every parameter given.
func operationProblems(t *testing.T, op *plinthv1.Operation) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(env.Root, "examples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var app *plinthv1.Application
	for _, f := range files {
		obj := readExample(t, filepath.Base(f))
		if obj.GetKind() == "Application" && obj.GetName() == op.Spec.TargetRef.Name {
			app = &plinthv1.Application{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, app); err != nil {
				t.Fatal(err)
			}
		}
	}
	if app == nil {
		return []string{fmt.Sprintf("targets %s %q, which is not an example Application", op.Spec.TargetRef.Kind, op.Spec.TargetRef.Name)}
	}
	src, err := pluginregistry.FromFolder(filepath.Join(env.Root, "plugins", app.Spec.Plugin, app.Spec.PluginVersion), "plinth-system")
	if err != nil {
		return []string{err.Error()}
	}
	pv, err := pluginregistry.Build(src.Plugin, src.Version, src.ConfigMaps)
	if err != nil {
		return []string{err.Error()}
	}
	ctx := pluginregistry.Context{Application: pluginregistry.ObjectRef{Name: app.Name, Namespace: app.Namespace}, Topology: app.Spec.Topology, Version: app.Spec.Version}
	if _, err := pluginregistry.RenderOperation(pv, op.Spec.TemplateRef, op.Spec.Parameters, ctx); err != nil {
		return []string{fmt.Sprintf("against %s %s: %v", pv.Name(), pv.Version(), err)}
	}
	return nil
}
