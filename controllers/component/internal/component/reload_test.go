package component_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/testenv"
	"github.com/plinth-io/plinth/pluginregistry"
)

// reloadVersion is redis v1.2.0 with a Reload operation template that takes
// the component and its changed settings, as the component-controller fills
// them (installReloadPlugin).
const reloadVersion = "v1.2.0-reload"

// installReloadPlugin installs reloadVersion: the shipped redis v1.2.0 with
// its Reload template replaced by one taking component and settings.
func installReloadPlugin(ctx context.Context, e *testenv.Env) error {
	src := filepath.Join(e.Root, "plugins", "redis", "v1.2.0")
	dir, err := os.MkdirTemp("", "plinth-reload-plugin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, f := range []string{"components.yaml", "podtemplates.yaml", "params.yaml", "manifest.yaml", "operations.yaml"} {
		raw, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return err
		}
		switch f {
		case "manifest.yaml":
			raw = []byte(strings.ReplaceAll(string(raw), "v1.2.0", reloadVersion))
		case "operations.yaml":
			if raw, err = withAutomaticReload(raw); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(dir, f), raw, 0o600); err != nil {
			return err
		}
	}
	return e.InstallPluginFolders(ctx, pluginregistry.DefaultNamespace, dir)
}

// withAutomaticReload replaces the Reload template of an operations.yaml.
func withAutomaticReload(raw []byte) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	reload := map[string]any{
		"name":        "Reload",
		"description": "Apply changed dynamic parameters on every pod of a component (no restart).",
		"parameters": []any{
			map[string]any{"name": "component", "type": "string", "required": true},
			map[string]any{"name": "settings", "type": "string", "required": true},
		},
		"steps": []any{map[string]any{
			"name": "wait-ready", "type": "wait", "timeout": "2m",
			"wait": map[string]any{"kind": "Application", "name": "{{ .Application.Name }}", "condition": "Ready"},
		}},
	}
	templates := doc["templates"].([]any)
	for i, t := range templates {
		if t.(map[string]any)["name"] == "Reload" {
			templates[i] = reload
		}
	}
	return yaml.Marshal(doc)
}

func operations(t *testing.T, ns string) []plinthv1.Operation {
	t.Helper()
	var list plinthv1.OperationList
	if err := env.Client.List(ctxT(t), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// waitApplied waits until the Component has observed its spec and records
// want among the dynamic parameters handed to its pods.
func waitApplied(t *testing.T, ns, name string, want map[string]string) *plinthv1.Component {
	t.Helper()
	c := &plinthv1.Component{}
	eventually(t, "Component "+name+" to record the applied dynamic parameters", func() error {
		if err := get(t, ns, name, c); err != nil {
			return err
		}
		if c.Status.ObservedGeneration != c.Generation {
			return errorf("observedGeneration %d of %d", c.Status.ObservedGeneration, c.Generation)
		}
		for k, v := range want {
			if got, ok := c.Status.AppliedDynamicParameters[k]; !ok || got != v {
				return errorf("appliedDynamicParameters[%s] = %q, want %q (%v)", k, got, v, c.Status.AppliedDynamicParameters)
			}
		}
		return nil
	})
	return c
}

func patchComponent(t *testing.T, ns, name string, mutate func(*plinthv1.ComponentSpec)) {
	t.Helper()
	eventually(t, "updating Component "+name, func() error {
		c := &plinthv1.Component{}
		if err := get(t, ns, name, c); err != nil {
			return err
		}
		mutate(&c.Spec)
		return env.Client.Update(ctxT(t), c)
	})
}

// A changed dynamic parameter reaches the running pods through exactly one
// automatic Reload Operation, when the plugin version's Reload template takes
// the component and settings: none for a new Component, one per change (a
// retried pass finds it), none for a restart-only parameter.
func TestDynamicParameterChangeCreatesOneReload(t *testing.T) {
	ns := namespace(t)
	comp := newComponent(t, ns, "cache", "standalone", "redis", func(s *plinthv1.ComponentSpec) { s.PluginVersion = reloadVersion })
	app := &plinthv1.Application{}
	if err := get(t, ns, "cache", app); err != nil {
		t.Fatal(err)
	}
	// A new Component: the pods read the values from the ConfigMap.
	baseline := waitApplied(t, ns, comp.Name, map[string]string{"maxmemory": "200mb", "timeout": "0"}).Status.AppliedDynamicParameters
	if ops := operations(t, ns); len(ops) != 0 {
		t.Fatalf("a new Component made %d Operations: %+v", len(ops), ops)
	}

	patchComponent(t, ns, comp.Name, func(s *plinthv1.ComponentSpec) {
		s.Parameters = map[string]string{"maxmemory": "300mb", "timeout": "60", "save": "900 1 300 10"}
	})
	got := waitApplied(t, ns, comp.Name, map[string]string{"maxmemory": "300mb", "timeout": "60", "save": "900 1 300 10"})
	ops := operations(t, ns)
	if len(ops) != 1 {
		t.Fatalf("%d Operations after one dynamic change, want 1: %+v", len(ops), ops)
	}
	op := ops[0]
	if !strings.HasPrefix(op.Name, comp.Name+"-reload-") {
		t.Errorf("Operation name %q, want %s-reload-<hash>", op.Name, comp.Name)
	}
	if op.Spec.TargetRef.Kind != "Application" || op.Spec.TargetRef.Name != "cache" || op.Spec.TemplateRef != "Reload" {
		t.Errorf("Operation spec %+v", op.Spec)
	}
	wantSettings := "maxmemory 300mb\nsave 900 1 300 10\ntimeout 60"
	if len(op.Spec.Parameters) != 2 || op.Spec.Parameters["component"] != "redis" || op.Spec.Parameters["settings"] != wantSettings {
		t.Errorf("Operation parameters %q, want component redis and settings %q", op.Spec.Parameters, wantSettings)
	}
	if op.Labels[plinthv1.LabelApplication] != "cache" || op.Labels[plinthv1.LabelAutomatic] != "true" {
		t.Errorf("Operation labels %v", op.Labels)
	}
	if r := op.Annotations[plinthv1.AnnotationReason]; r != "dynamic parameters changed: maxmemory, save, timeout" {
		t.Errorf("Operation reason %q", r)
	}
	if len(op.OwnerReferences) != 1 || op.OwnerReferences[0].UID != app.UID || op.OwnerReferences[0].Kind != "Application" {
		t.Errorf("Operation owner references %+v, want the Application %s", op.OwnerReferences, app.UID)
	}

	// A pass retried after its status write was lost sees the same change
	// again and finds the Operation instead of making a second one.
	got.Status.AppliedDynamicParameters = baseline
	if err := env.Client.Status().Update(ctxT(t), got); err != nil {
		t.Fatal(err)
	}
	// An annotation change (no new generation) enqueues a pass.
	eventually(t, "annotating Component "+comp.Name, func() error {
		c := &plinthv1.Component{}
		if err := get(t, ns, comp.Name, c); err != nil {
			return err
		}
		c.Annotations = map[string]string{"test.plinth.io/poke": "1"}
		return env.Client.Update(ctxT(t), c)
	})
	eventually(t, "a pass to run again", func() error {
		c := &plinthv1.Component{}
		if err := get(t, ns, comp.Name, c); err != nil {
			return err
		}
		if c.Status.AppliedDynamicParameters["maxmemory"] != "300mb" {
			return errorf("appliedDynamicParameters %v", c.Status.AppliedDynamicParameters)
		}
		return nil
	})
	if ops := operations(t, ns); len(ops) != 1 {
		t.Fatalf("%d Operations after a retried pass, want still 1: %+v", len(ops), ops)
	}

	// A restart-only parameter rolls the pods: no Reload.
	before := &plinthv1.WorkloadSet{}
	if err := get(t, ns, comp.Name, before); err != nil {
		t.Fatal(err)
	}
	patchComponent(t, ns, comp.Name, func(s *plinthv1.ComponentSpec) { s.Parameters["databases"] = "32" })
	eventually(t, "the restart-only change in the WorkloadSet", func() error {
		ws := &plinthv1.WorkloadSet{}
		if err := get(t, ns, comp.Name, ws); err != nil {
			return err
		}
		if ws.Generation == before.Generation {
			return errorf("WorkloadSet not changed yet")
		}
		return nil
	})
	waitApplied(t, ns, comp.Name, map[string]string{"maxmemory": "300mb"})
	if ops := operations(t, ns); len(ops) != 1 {
		t.Fatalf("%d Operations after a restart-only change, want still 1: %+v", len(ops), ops)
	}
}

// A plugin version whose Reload template does not take component and
// settings (redis v1.0.0 sets one parameter a person names) gets no
// automatic Reload: the new values reach the pods at their next restart.
func TestDynamicParameterChangeWithoutAutomaticReload(t *testing.T) {
	ns := namespace(t)
	comp := newComponent(t, ns, "old", "standalone", "redis", nil)
	waitApplied(t, ns, comp.Name, map[string]string{"maxmemory": "200mb"})
	patchComponent(t, ns, comp.Name, func(s *plinthv1.ComponentSpec) { s.Parameters["maxmemory"] = "300mb" })
	waitApplied(t, ns, comp.Name, map[string]string{"maxmemory": "300mb"})
	if ops := operations(t, ns); len(ops) != 0 {
		t.Fatalf("plugin v1.0.0 got %d automatic Operations: %+v", len(ops), ops)
	}
}
