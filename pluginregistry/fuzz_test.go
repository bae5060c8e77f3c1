package pluginregistry_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plinth-io/plinth/pluginregistry"
)

// FuzzBuild replaces one part of the mini plugin with arbitrary bytes: Build
// must return a valid version or an *InvalidError, never panic (Build's own
// recover turns a panic into an "internal error", which fails this test).
func FuzzBuild(f *testing.F) {
	src, err := pluginregistry.FromFolder("testdata/lint/valid-mini/mini", pluginregistry.DefaultNamespace)
	if err != nil {
		f.Fatal(err)
	}
	for i, part := range pluginregistry.Parts {
		for _, dir := range []string{"testdata/lint/valid-mini/mini", "../plugins/redis/v1.0.0"} {
			data, err := os.ReadFile(filepath.Join(dir, part.Key()))
			if err == nil {
				f.Add(uint8(i), data)
			}
		}
	}
	f.Add(uint8(0), []byte("plugin: [\n"))
	f.Add(uint8(1), []byte("- a\n- b\n"))
	f.Add(uint8(2), []byte("templates:\n- name: x\n  template: '{{ .Pod.Name '\n"))
	// Over-budget documents (TestBudget*): an alias bomb, a merge-key bomb,
	// a define fan-out and a CPU-burning constraint.
	f.Add(uint8(2), []byte(aliasBomb(6, false)))
	f.Add(uint8(2), []byte(aliasBomb(6, true)))
	f.Add(uint8(2), []byte("templates:\n- name: server\n  template: '{{define \"a\"}}{{template \"b\"}}{{template \"b\"}}{{end}}{{define \"b\"}}{{range 100000}}{{end}}{{end}}{{template \"a\"}}'\n"))
	f.Add(uint8(3), []byte("components:\n- component: server\n  parameters:\n  - {name: threads, type: int, default: \"4\", constraint: 'len([for a in [1,2] for b in [1,2] {a}]) > 0'}\n"))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		part := pluginregistry.Parts[int(which)%len(pluginregistry.Parts)]
		cms := append(src.ConfigMaps[:0:0], src.ConfigMaps...)
		for i := range cms {
			if cms[i].Labels["plinth.io/plugin-part"] == string(part) {
				cms[i].Data = map[string]string{part.Key(): string(data)}
			}
		}
		pv, err := pluginregistry.Build(src.Plugin, src.Version, cms)
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("Build panicked: %v", err)
			}
			if _, ok := err.(*pluginregistry.InvalidError); !ok {
				t.Fatalf("Build returned %T, want *InvalidError: %v", err, err)
			}
			return
		}
		if pv == nil {
			t.Fatal("Build returned neither a version nor an error")
		}
		// The rest of the path a controller takes with a valid version:
		// parameters, config files, pod templates, under the same budgets.
		ctx := sampleContext()
		for _, d := range pv.Components.Components {
			ctx.Component.Def = d.Name
			if _, err := pluginregistry.ValidateParameters(pv, d.Name, nil); err != nil {
				continue
			}
			_, _ = pluginregistry.RenderConfigFiles(pv, d.Name, nil, ctx)
			_, _ = pluginregistry.RenderPodTemplate(pv, d.Name, &ctx)
		}
	})
}

// FuzzRender renders arbitrary template text: it returns (an error or a
// result under 1 MiB) within its budgets and never panics.
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		`{{ quote .Pod.Name }}`,
		`{{ range $k, $v := .Params }}{{ $k }}={{ shquote $v }}{{ end }}`,
		`{{define "a"}}{{template "a"}}{{end}}{{template "a"}}`,
		`{{range 100000}}{{range 100000}}{{end}}{{end}}`,
		`{{ indent 1000 "a\nb" }}`,
		`{{ printf "%0999999d" 1 }}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		ctx := sampleContext()
		ctx.Params = map[string]string{"a": "it's", "b": "x"}
		start := time.Now()
		out, err := pluginregistry.Render("fuzz", text, &ctx)
		if d := time.Since(start); d > 2*pluginregistry.MaxTemplateTime {
			t.Fatalf("Render took %s, over twice its time budget", d)
		}
		if err == nil && len(out) > 1<<20 {
			t.Fatalf("Render returned %d bytes, over 1 MiB", len(out))
		}
	})
}

// FuzzReadConfigMaps feeds arbitrary YAML streams to the ConfigMap reader
// used by lint.
func FuzzReadConfigMaps(f *testing.F) {
	f.Add([]byte("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: {plinth.io/plugin: x, plinth.io/plugin-version: v1.0.0}}\n"))
	f.Add([]byte("kind: Pod\n"))
	f.Add([]byte("---\n---\n: :\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		srcs, err := pluginregistry.ReadConfigMaps(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		for _, s := range srcs {
			_, _ = pluginregistry.Build(s.Plugin, s.Version, s.ConfigMaps)
		}
	})
}
