// Package integration tests the application-controller against a real
// kube-apiserver and etcd, with the real plugin registry fed from the
// plugins shipped in plugins/.
package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/controllers/application/internal/application"
	"github.com/plinth-io/plinth/internal/conditions"
	"github.com/plinth-io/plinth/internal/ctrlmanager"
	"github.com/plinth-io/plinth/internal/testenv"
	"github.com/plinth-io/plinth/pluginregistry"
)

// platformNamespace holds the plugin ConfigMaps, as in production.
const platformNamespace = "plinth-system"

// Generous bounds: the tests poll, they never assert timings.
const (
	waitTimeout = 60 * time.Second
	pollEvery   = 100 * time.Millisecond
)

var env *testenv.Env

func TestMain(m *testing.M) {
	e, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	env = e
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(logs)))
	code := 1
	if err := installPlatform(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	if err := e.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the test API server:", err)
	}
	os.Exit(code)
}

// installPlatform creates the platform namespace with redis v1.0.0 and
// postgresql v1.0.0 installed. redis v1.1.0 is left for a test to install.
func installPlatform() error {
	ctx := context.Background()
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: platformNamespace}}); err != nil {
		return err
	}
	for _, p := range [][2]string{{"redis", "v1.0.0"}, {"postgresql", "v1.0.0"}} {
		if err := installPlugin(ctx, p[0], p[1]); err != nil {
			return err
		}
	}
	return nil
}

// installPlugin creates the ConfigMaps of a shipped plugin version, as
// plinth-plugin (and kustomize) publish them.
func installPlugin(ctx context.Context, plugin, version string) error {
	src, err := pluginregistry.FromFolder(filepath.Join(env.Root, "plugins", plugin, version), platformNamespace)
	if err != nil {
		return err
	}
	for i := range src.ConfigMaps {
		if err := env.Client.Create(ctx, &src.ConfigMaps[i]); err != nil {
			return fmt.Errorf("installing %s %s: %w", plugin, version, err)
		}
	}
	return nil
}

type controllerOptions struct {
	workers int
	timeout time.Duration
	// wrapTransport wraps the controller's HTTP transport (to make the API
	// server "hang" for some requests).
	wrapTransport func(http.RoundTripper) http.RoundTripper
	// user, when set, is the user the controller acts as (impersonated).
	user string
}

// startController runs the application-controller, wired as in main.go,
// limited to namespace ns. It stops when the test ends.
func startController(t *testing.T, ns string, co controllerOptions) {
	t.Helper()
	logDone := &atomic.Bool{}
	log := zap.New(zap.UseDevMode(true), zap.WriteTo(testWriter{t, logDone}))
	// The controllers log through the manager's logger, the process-wide one.
	logs.current.Store(&testWriter{t, logDone})
	t.Cleanup(func() { logDone.Store(true) }) // runs after the manager stops
	testenv.StartManager(t, env, testenv.ManagerOptions{
		Name:      "application-controller",
		Namespace: ns,
		Tune: func(o *ctrlmanager.Options) {
			o.Workers, o.ReconcileTimeout = 2, 30*time.Second
			if co.workers != 0 {
				o.Workers = co.workers
			}
			if co.timeout != 0 {
				o.ReconcileTimeout = co.timeout
			}
			o.BackoffBase, o.BackoffMax = 100*time.Millisecond, 2*time.Second
			o.PlatformNamespace = platformNamespace
		},
		RestConfig: func(cfg *rest.Config) {
			if co.wrapTransport != nil {
				cfg.WrapTransport = co.wrapTransport
			}
			if co.user != "" {
				cfg.Impersonate = rest.ImpersonationConfig{UserName: co.user}
			}
		},
	}, func(ctx context.Context, m *testenv.Manager) error {
		reg, err := pluginregistry.AddToManager(m, m.Options.PlatformNamespace, log)
		if err != nil {
			return err
		}
		copts := m.ControllerOptions()
		copts.Logger = log
		return application.Setup(ctx, m, application.Options{
			FieldManager:      m.FieldManager(),
			Controller:        copts,
			PlatformNamespace: m.Options.PlatformNamespace,
			Plugins:           reg,
		})
	})
}

// logs routes the process-wide controller-runtime log to the running test.
var logs = &logRouter{}

type logRouter struct{ current atomic.Pointer[testWriter] }

func (r *logRouter) Write(p []byte) (int, error) {
	if w := r.current.Load(); w != nil {
		return w.Write(p)
	}
	return len(p), nil
}

// testWriter sends the controller's log to the test's log (shown on
// failure) until the test ends.
type testWriter struct {
	t    *testing.T
	done *atomic.Bool
}

func (w testWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "app-test-"}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*waitTimeout)
	t.Cleanup(cancel)
	return c
}

// eventually polls cond until it returns nil; on timeout the test fails
// with cond's last error.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(pollEvery)
	}
	t.Fatalf("timed out waiting for %s: %v", what, err)
}

func redisApp(ns, name string, mutate ...func(*plinthv1.Application)) *plinthv1.Application {
	app := &plinthv1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: plinthv1.ApplicationSpec{
			Plugin: "redis", PluginVersion: "v1.0.0", Version: "7.2", Topology: "standalone",
		},
	}
	for _, m := range mutate {
		m(app)
	}
	return app
}

func getApp(t *testing.T, ns, name string) *plinthv1.Application {
	t.Helper()
	app := &plinthv1.Application{}
	if err := env.Client.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: name}, app); err != nil {
		t.Fatal(err)
	}
	return app
}

// waitForCondition waits until the Application's condition typ has status
// and reason, and returns the Application.
func waitForCondition(t *testing.T, ns, name, typ string, status metav1.ConditionStatus, reason string) *plinthv1.Application {
	t.Helper()
	app := &plinthv1.Application{}
	eventually(t, fmt.Sprintf("%s %s=%s (%s)", name, typ, status, reason), func() error {
		if err := env.Client.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: name}, app); err != nil {
			return err
		}
		c := conditions.Get(app.Status.Conditions, typ)
		if c == nil || c.Status != status || c.Reason != reason || app.Status.ObservedGeneration != app.Generation {
			return fmt.Errorf("status is %+v", app.Status)
		}
		return nil
	})
	return app
}

func waitForPhase(t *testing.T, ns, name string, phase plinthv1.ApplicationPhase) *plinthv1.Application {
	t.Helper()
	app := &plinthv1.Application{}
	eventually(t, fmt.Sprintf("%s in phase %s", name, phase), func() error {
		if err := env.Client.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: name}, app); err != nil {
			return err
		}
		if app.Status.Phase != phase || app.Status.ObservedGeneration != app.Generation {
			return fmt.Errorf("phase %s, observed generation %d of %d; conditions %+v", app.Status.Phase, app.Status.ObservedGeneration, app.Generation, app.Status.Conditions)
		}
		return nil
	})
	return app
}

func waitForComponent(t *testing.T, ns, name string, cond func(*plinthv1.Component) error) *plinthv1.Component {
	t.Helper()
	c := &plinthv1.Component{}
	eventually(t, "Component "+name, func() error {
		if err := env.Client.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: name}, c); err != nil {
			return err
		}
		if cond != nil {
			return cond(c)
		}
		return nil
	})
	return c
}

// setComponentStatus plays the component-controller: it reports the
// Component's current generation as observed, in phase with ready members;
// a Running Component with every member ready runs the spec's versions.
func setComponentStatus(t *testing.T, ns, name string, phase plinthv1.ComponentPhase, ready int32) {
	t.Helper()
	eventually(t, "writing the status of Component "+name, func() error {
		c := &plinthv1.Component{}
		if err := env.Client.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: name}, c); err != nil {
			return err
		}
		if phase == plinthv1.ComponentRunning && ready == c.Spec.Replicas {
			c.Status.PluginVersion, c.Status.Version = c.Spec.PluginVersion, c.Spec.Version
		}
		c.Status.ObservedGeneration = c.Generation
		c.Status.Phase = phase
		c.Status.Replicas = c.Spec.Replicas
		c.Status.ReadyReplicas = ready
		c.Status.Ready = fmt.Sprintf("%d/%d", ready, c.Spec.Replicas)
		return env.Client.Status().Update(ctx(t), c)
	})
}

func patchApp(t *testing.T, ns, name string, mutate func(*plinthv1.Application)) {
	t.Helper()
	eventually(t, "updating Application "+name, func() error {
		app := getApp(t, ns, name)
		mutate(app)
		return env.Client.Update(ctx(t), app)
	})
}

func componentsOf(t *testing.T, ns, app string) []plinthv1.Component {
	t.Helper()
	var list plinthv1.ComponentList
	if err := env.Client.List(ctx(t), &list, client.InNamespace(ns), client.MatchingLabels{plinthv1.LabelApplication: app}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func secretExists(t *testing.T, ns, name string) bool {
	t.Helper()
	err := env.Client.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: name}, &corev1.Secret{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}
