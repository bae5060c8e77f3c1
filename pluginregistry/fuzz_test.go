package pluginregistry_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
