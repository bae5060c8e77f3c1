package application

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/plinth-io/plinth/internal/testenv"
	"github.com/plinth-io/plinth/pluginregistry"
)

var (
	pluginsMu sync.Mutex
	plugins   = map[string]*pluginregistry.PluginVersion{}
)

// loadPlugin builds a plugin version shipped under plugins/ exactly as the
// registry builds it from its ConfigMaps.
func loadPlugin(t *testing.T, plugin, version string) *pluginregistry.PluginVersion {
	t.Helper()
	pluginsMu.Lock()
	defer pluginsMu.Unlock()
	key := plugin + "/" + version
	if pv := plugins[key]; pv != nil {
		return pv
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	src, err := pluginregistry.FromFolder(filepath.Join(root, "plugins", plugin, version), pluginregistry.DefaultNamespace)
	if err != nil {
		t.Fatal(err)
	}
	pv, err := pluginregistry.Build(plugin, version, src.ConfigMaps)
	if err != nil {
		t.Fatalf("plugin %s %s: %v", plugin, version, err)
	}
	plugins[key] = pv
	return pv
}

func TestShippedPluginsLoad(t *testing.T) {
	for _, p := range [][2]string{{"redis", "v1.0.0"}, {"redis", "v1.1.0"}, {"postgresql", "v1.0.0"}} {
		pv := loadPlugin(t, p[0], p[1])
		if pv.Topology("standalone") == nil {
			t.Errorf("%s %s has no standalone topology", p[0], p[1])
		}
	}
}
