package pluginregistry_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plinth-io/plinth/pluginregistry"
	"github.com/plinth-io/plinth/pluginregistry/plugincli"
)

// The four shipped plugin versions lint clean.
func TestShippedPluginsLint(t *testing.T) {
	var out bytes.Buffer
	if err := plugincli.Lint(&out, []string{"../plugins"}); err != nil {
		t.Fatalf("lint of the shipped plugins failed: %v\n%s", err, out.String())
	}
	for _, want := range []string{"ok   redis v1.0.0", "ok   redis v1.1.0", "ok   postgresql v1.0.0", "ok   postgresql v1.1.0",
		"ok   redis v1.2.0", "ok   postgresql v1.2.0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lint output lacks %q:\n%s", want, out.String())
		}
	}
	// Only the versions published before the operations contract may
	// carry warnings.
	lines := strings.Split(out.String(), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "ok   ") && strings.Contains(l, "v1.2.0") && i+1 < len(lines) && strings.HasPrefix(lines[i+1], " ") {
			t.Errorf("%s has warnings: %s", l, lines[i+1])
		}
	}
}

// The operations contract: v1.2.0 has the 12 lifecycle templates (and
// Backup), all runnable; a template of a version published before the
// contract that breaks it is refused when rendered, while the version is
// served and its UpgradeApp still runs (the way out).
func TestOperationTemplatesRunnable(t *testing.T) {
	lifecycle := []string{"Create", "Delete", "VerticalScaleResource", "VerticalScaleVolume", "HorizontalScale",
		"Stop", "Start", "Restart", "Reload", "Failover", "UpgradeApp", "UpgradePaaS", "Backup"}
	for _, plugin := range []string{"redis", "postgresql"} {
		pv := load(t, "../plugins/"+plugin+"/v1.2.0")
		if len(pv.Unrunnable) > 0 {
			t.Errorf("%s v1.2.0 has templates that cannot run: %v", plugin, pv.Unrunnable)
		}
		for _, name := range lifecycle {
			if pv.OperationTemplate(name) == nil {
				t.Errorf("%s v1.2.0 has no %s template", plugin, name)
			}
		}
	}
	old := load(t, "../plugins/redis/v1.0.0")
	_, err := pluginregistry.RenderOperation(old, "Stop", nil, sampleContext())
	if err == nil || !strings.Contains(err.Error(), `operation template Stop breaks the operations contract and cannot run`) ||
		!strings.Contains(err.Error(), `condition "Stopped"`) || !strings.Contains(err.Error(), "UpgradeApp") {
		t.Errorf("rendering redis v1.0.0 Stop: %v", err)
	}
	if _, err := pluginregistry.RenderOperation(old, "UpgradeApp", map[string]string{"pluginVersion": "v1.2.0"}, sampleContext()); err != nil {
		t.Errorf("redis v1.0.0 UpgradeApp: %v", err)
	}
}

// Every broken fixture under testdata/lint fails lint with the precise
// message in its expected.txt (one substring per line).
func TestBrokenFixturesFailLint(t *testing.T) {
	dirs, err := os.ReadDir("testdata/lint")
	if err != nil {
		t.Fatal(err)
	}
	broken := 0
	for _, d := range dirs {
		dir := filepath.Join("testdata/lint", d.Name())
		if strings.HasPrefix(d.Name(), "valid-") {
			t.Run(d.Name(), func(t *testing.T) {
				var out bytes.Buffer
				if err := plugincli.Lint(&out, []string{dir}); err != nil {
					t.Fatalf("expected %s to lint clean: %v\n%s", dir, err, out.String())
				}
			})
			continue
		}
		broken++
		t.Run(d.Name(), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, "expected.txt"))
			if err != nil {
				t.Fatalf("fixture %s needs an expected.txt: %v", dir, err)
			}
			var out bytes.Buffer
			err = plugincli.Lint(&out, []string{dir})
			if err == nil {
				t.Fatalf("lint of %s passed, expected it to fail:\n%s", dir, out.String())
			}
			for _, want := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
				if !strings.Contains(out.String(), want) {
					t.Errorf("lint output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
	if broken < 10 {
		t.Fatalf("only %d broken fixtures; the acceptance asks for at least 10", broken)
	}
}

// The ConfigMaps kustomize builds from deploy/kustomize/plugins are exactly
// the ones plinth-plugin generates (same names, labels, immutability, hash).
func TestKustomizationsAreCurrent(t *testing.T) {
	sources, err := pluginregistry.Discover("../plugins", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sources {
		have, err := os.ReadFile(filepath.Join(s.Origin, "kustomization.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if string(have) != pluginregistry.Kustomization(s) {
			t.Errorf("%s/kustomization.yaml is stale: run make plugins-generate", s.Origin)
		}
	}
}

// Every integer middleware parameter of the newest shipped versions has an
// upper bound: a tenant's value past what the server parses (PostgreSQL's
// int is 32-bit) would stop it from starting.
func TestIntegerParametersAreBounded(t *testing.T) {
	for _, dir := range []string{"../plugins/redis/v1.2.0", "../plugins/postgresql/v1.2.0"} {
		pv := load(t, dir)
		for _, cp := range pv.Params.Components {
			for _, p := range cp.Parameters {
				if p.Type != pluginregistry.TypeInt {
					continue
				}
				if !strings.Contains(p.Constraint, "<") {
					t.Errorf("%s: %s parameter %s has no upper bound (constraint %q)", dir, cp.Component, p.Name, p.Constraint)
				}
			}
		}
	}
}
