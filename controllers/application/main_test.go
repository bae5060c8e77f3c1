package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/ctrlmanager"
	"github.com/plinth-io/plinth/internal/testenv"
	"github.com/plinth-io/plinth/pluginregistry"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env)) }

// The binary's own wiring (setup) reconciles an Application end to end: the
// registry reads the platform namespace and the Component is created.
func TestSetupWiresTheController(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := ctrlmanager.NewOptions("application-controller")
	o.MetricsAddr, o.HealthAddr, o.LeaderElect = "0", "0", false
	o.Workers, o.ReconcileTimeout, o.QPS, o.Burst = 2, 30*time.Second, 100, 200
	o.BackoffBase, o.BackoffMax = 100*time.Millisecond, 2*time.Second
	o.PlatformNamespace = "plugins-here"
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	c := env.Client
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.PlatformNamespace}}); err != nil {
		t.Fatal(err)
	}
	src, err := pluginregistry.FromFolder(filepath.Join(env.Root, "plugins", "redis", "v1.0.0"), o.PlatformNamespace)
	if err != nil {
		t.Fatal(err)
	}
	for i := range src.ConfigMaps {
		if err := c.Create(ctx, &src.ConfigMaps[i]); err != nil {
			t.Fatal(err)
		}
	}

	mgr, err := o.New(env.Config, env.Scheme)
	if err != nil {
		t.Fatal(err)
	}
	if err := setup(ctx, mgr, o, zap.New(zap.WriteTo(os.Stderr))); err != nil {
		t.Fatal(err)
	}
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	app := &plinthv1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "wired", Namespace: "default"},
		Spec:       plinthv1.ApplicationSpec{Plugin: "redis", PluginVersion: "v1.0.0", Version: "7.2", Topology: "standalone"},
	}
	if err := c.Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	comp := &plinthv1.Component{}
	for {
		err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "wired-redis"}, comp)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no Component: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if comp.Spec.Image != "docker.io/library/redis:7.2" {
		t.Errorf("Component image %q", comp.Spec.Image)
	}
}
