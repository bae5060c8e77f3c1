package testenv

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/plinth-io/plinth/internal/ctrlmanager"
)

// ManagerOptions say how StartManager builds a controller manager.
type ManagerOptions struct {
	// Name is the controller's name (component-controller, ...): it names
	// the field manager (plinth-<Name>) as in the binary.
	Name string
	// Namespace limits the manager's cache to one namespace (the binary's
	// --watch-namespace); empty watches every namespace.
	Namespace string
	// Tune changes the binary's options (workers, reconcile timeout,
	// backoff...) before the manager is built.
	Tune func(*ctrlmanager.Options)
	// RestConfig changes the manager's copy of the API server's config, for
	// example to wrap its transport or to impersonate a user.
	RestConfig func(*rest.Config)
}

// Manager is a controller manager a test started, with the options it was
// built from.
type Manager struct {
	manager.Manager
	Options *ctrlmanager.Options

	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// ControllerOptions are the binary's controller options (workers,
// ReconciliationTimeout, backoff) with controller-name validation off: every
// test in a package may register the same controller in its own manager.
func (m *Manager) ControllerOptions() controller.Options {
	co := m.Options.ControllerOptions()
	co.SkipNameValidation = ptr.To(true)
	return co
}

// FieldManager is the binary's server-side-apply identity.
func (m *Manager) FieldManager() string { return m.Options.FieldManager() }

// Stop stops the manager and waits for it to end; it returns the manager's
// error. Calling it again returns the same error.
func (m *Manager) Stop() error {
	m.once.Do(func() {
		m.cancel()
		m.err = <-m.done
	})
	return m.err
}

// SetupFunc registers a test's reconcilers (a controller's Setup) with m.
// ctx ends when the manager stops.
type SetupFunc func(ctx context.Context, m *Manager) error

// managerDefaults are the options of a test manager: the binary's defaults
// with what a test needs instead — no metrics or health endpoints, no leader
// election, a fast retry and a client that does not throttle the test.
func managerDefaults(mo ManagerOptions) *ctrlmanager.Options {
	o := ctrlmanager.NewOptions(mo.Name)
	o.MetricsAddr, o.HealthAddr, o.LeaderElect = "0", "0", false
	o.Workers, o.ReconcileTimeout = 4, time.Minute
	o.BackoffBase, o.BackoffMax = 100*time.Millisecond, 5*time.Second
	o.QPS, o.Burst = 200, 400
	o.WatchNamespace = mo.Namespace
	o.PlatformNamespace = "plinth-system"
	return o
}

// NewManager builds a manager on the environment's API server the way the
// binary builds it (ctrlmanager.Options.New: scoped cache, rate-limited
// client), runs setup and starts it. The caller stops it with Stop; tests use
// StartManager, which does that on t.Cleanup.
func (e *Env) NewManager(mo ManagerOptions, setup SetupFunc) (*Manager, error) {
	if mo.Name == "" {
		return nil, fmt.Errorf("testenv: a manager needs a controller name")
	}
	o := managerDefaults(mo)
	if mo.Tune != nil {
		mo.Tune(o)
	}
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("testenv: manager %s: %w", mo.Name, err)
	}
	cfg := rest.CopyConfig(e.Config)
	if mo.RestConfig != nil {
		mo.RestConfig(cfg)
	}
	mgr, err := o.New(cfg, e.Scheme)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{Manager: mgr, Options: o, cancel: cancel, done: make(chan error, 1)}
	if setup != nil {
		if err := setup(ctx, m); err != nil {
			cancel()
			return nil, fmt.Errorf("testenv: setting up manager %s: %w", mo.Name, err)
		}
	}
	go func() { m.done <- mgr.Start(ctx) }()
	return m, nil
}

// StartManager is NewManager for one test: a failure to build or set up the
// manager fails the test, and the manager is stopped (and its error
// reported) when the test ends, whether it passed or not.
func StartManager(t testing.TB, e *Env, mo ManagerOptions, setup SetupFunc) *Manager {
	t.Helper()
	m, err := e.NewManager(mo, setup)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Errorf("manager %s: %v", mo.Name, err)
		}
	})
	return m
}
