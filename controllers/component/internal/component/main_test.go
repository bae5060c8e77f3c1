// Package component_test runs the component-controller against a real
// kube-apiserver with the real Redis plugin and checks what it renders.
package component_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/plinth-io/plinth/controllers/component/internal/component"
	"github.com/plinth-io/plinth/internal/agentclient"
	"github.com/plinth-io/plinth/internal/ctrlmanager"
	"github.com/plinth-io/plinth/internal/testenv"
	"github.com/plinth-io/plinth/pluginregistry"
)

var (
	env        *testenv.Env
	clock      = &testClock{}
	testAgents = &agentAddresses{}
)

// agentAddresses sends the component-controller's agent calls for a
// namespace's pods to a real ops agent on loopback (the TLS server name is
// still the pod's DNS name).
type agentAddresses struct{ m sync.Map }

func (a *agentAddresses) set(namespace, addr string) { a.m.Store(namespace, addr) }

func (a *agentAddresses) resolve(_ context.Context, pod agentclient.Pod) (string, error) {
	if addr, ok := a.m.Load(pod.Namespace); ok {
		return addr.(string), nil
	}
	return "", fmt.Errorf("no test ops agent for namespace %s", pod.Namespace)
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

// Reset puts the clock back to the real time (certificates the controller
// issues after an Advance are not valid yet for the real clock, which the
// TLS handshakes use).
func (c *testClock) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = 0
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env, startController)) }

// startController installs the plugins and runs the registry and the
// component-controller against the test API server.
func startController(e *testenv.Env) (stop func(), err error) {
	ctrl.SetLogger(logr.Discard())
	ctx := context.Background()
	if err := e.InstallPlugins(ctx, pluginregistry.DefaultNamespace); err != nil {
		return nil, err
	}
	if err := e.InstallPluginFolders(ctx, pluginregistry.DefaultNamespace, "testdata/plugins/boot/v1.0.0"); err != nil {
		return nil, err
	}
	if err := installReloadPlugin(ctx, e); err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return nil, err
	}
	plugins, err := pluginregistry.New(cs, pluginregistry.Options{})
	if err != nil {
		return nil, err
	}
	m, err := e.NewManager(testenv.ManagerOptions{
		Name:       "component-controller",
		Tune:       func(o *ctrlmanager.Options) { o.Workers = 4 },
		RestConfig: func(cfg *rest.Config) { cfg.WrapTransport = writes.wrap },
	}, func(ctx context.Context, m *testenv.Manager) error {
		if err := m.Add(plugins); err != nil {
			return err
		}
		return component.Setup(ctx, m, component.Options{
			FieldManager:      m.FieldManager(),
			Controller:        m.ControllerOptions(),
			PlatformNamespace: m.Options.PlatformNamespace,
			Plugins:           plugins,
			Agents:            &agentclient.Client{Reader: m.GetClient(), Resolve: testAgents.resolve},
			Now:               clock.Now,
		})
	})
	if err != nil {
		return nil, err
	}
	stop = func() {
		if err := m.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}
	// The registry serves redis v1.0.0 within seconds of starting.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if _, err := plugins.Get("redis", "v1.0.0"); err == nil {
			break
		} else if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("registry never served redis v1.0.0: %w", err)
		}
	}
	return stop, nil
}
