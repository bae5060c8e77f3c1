// Package componentctrl_test runs the component-controller against a real
// kube-apiserver with the real Redis plugin and checks what it renders.
package componentctrl_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/plinth-io/plinth/controllers/component/internal/componentctrl"
	"github.com/plinth-io/plinth/internal/imagerewrite"
	"github.com/plinth-io/plinth/internal/testenv"
	"github.com/plinth-io/plinth/pluginregistry"
)

var (
	env   *testenv.Env
	clock = &testClock{}
)

// folderPlugins serves plugin versions built by the real registry code from
// the repository's plugin folders (the informer-backed registry is tested in
// pluginregistry; here only the lookup is local).
type folderPlugins struct {
	mu       sync.Mutex
	versions map[string]*pluginregistry.PluginVersion
}

func (p *folderPlugins) Get(plugin, version string) (*pluginregistry.PluginVersion, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pv, ok := p.versions[plugin+"/"+version]; ok {
		return pv, nil
	}
	return nil, fmt.Errorf("plugin %s version %s is not installed", plugin, version)
}

func loadPlugins(root string) (*folderPlugins, error) {
	out := &folderPlugins{versions: map[string]*pluginregistry.PluginVersion{}}
	dirs, _ := filepath.Glob(filepath.Join(root, "plugins", "*", "v*"))
	for _, dir := range dirs {
		src, err := pluginregistry.FromFolder(dir, pluginregistry.DefaultNamespace)
		if err != nil {
			return nil, err
		}
		pv, err := pluginregistry.Build(src.Plugin, src.Version, src.ConfigMaps)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		out.versions[src.Plugin+"/"+src.Version] = pv
	}
	return out, nil
}

type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, &env, func(e *testenv.Env) (func(), error) {
		ctrl.SetLogger(logr.Discard())
		plugins, err := loadPlugins(e.Root)
		if err != nil {
			return nil, err
		}
		mgr, err := ctrl.NewManager(e.Config, ctrl.Options{Scheme: e.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
		if err != nil {
			return nil, err
		}
		rules, _ := imagerewrite.Parse([]string{"docker.io/library/=localhost/plinth-mirror/"})
		r := &componentctrl.Reconciler{
			Client:   mgr.GetClient(),
			Plugins:  plugins,
			Platform: componentctrl.Platform{Image: "ghcr.io/plinth-io/plinth:test", Namespace: "plinth-system", BinDir: "/plinth/bin"},
			Images:   rules,
			Now:      clock.Now,
		}
		skip := true
		if err := r.SetupWithManager(mgr, controller.Options{MaxConcurrentReconciles: 4, SkipNameValidation: &skip}, time.Minute); err != nil {
			return nil, err
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := mgr.Start(ctx); err != nil {
				fmt.Fprintln(os.Stderr, "manager:", err)
			}
		}()
		return func() { cancel(); <-done }, nil
	}))
}
