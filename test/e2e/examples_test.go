//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	crclient "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/naming"
)

// readExample reads a file of the repository's examples/ (found from the
// working directory up: make runs the test binary at the root, go test in
// test/e2e) as an Application, refusing unknown fields.
func readExample(t *testing.T, name string) *plinthv1.Application {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "examples", name))
		if err == nil {
			app := &plinthv1.Application{}
			if err := yaml.UnmarshalStrict(data, app); err != nil {
				t.Fatalf("examples/%s: %v", name, err)
			}
			return app
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no examples/%s above the working directory", name)
		}
		dir = parent
	}
}

// The sandbox's example, examples/redis-standalone.yaml, runs as written
// (in the test's namespace): it reaches Running, serves with the generated
// password, runs with the parameters it sets, and its deletion completes.
func TestExampleRedisStandalone(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	app := readExample(t, "redis-standalone.yaml")
	app.Namespace = ns
	if err := api(t).Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitPhase(t, ns, app.Name, plinthv1.ApplicationRunning, toRunning)
	t.Logf("examples/redis-standalone.yaml: Running after %s", time.Since(start).Round(time.Second))

	addr := serviceAddr(t, ns, naming.ClientService(naming.Component(app.Name, "redis")), 6379)
	password := secretValue(t, ns, naming.CredentialsSecret(app.Name), "password")
	eventually(t, 30*time.Second, func() error {
		return onRedis(addr, password, func(ctx context.Context, c *redis.Client) error {
			return c.Set(ctx, "plinth:example", "works", 0).Err()
		})
	})
	if got, err := redisGet(addr, password, "plinth:example"); err != nil || got != "works" {
		t.Fatalf("GET plinth:example = %q %v", got, err)
	}
	// maxmemory: 200mb and maxmemory-policy: allkeys-lru, as the example sets.
	err := onRedis(addr, password, func(ctx context.Context, c *redis.Client) error {
		for param, want := range map[string]string{"maxmemory": "209715200", "maxmemory-policy": "allkeys-lru"} {
			got, err := c.ConfigGet(ctx, param).Result()
			if err != nil {
				return err
			}
			if got[param] != want {
				return fmt.Errorf("CONFIG GET %s = %q, want %q", param, got[param], want)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}

	if err := api(t).Delete(ctx, app); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Minute, func() error {
		if err := api(t).Get(ctx, crclient.ObjectKeyFromObject(app), &plinthv1.Application{}); !isGone(err) {
			return fmt.Errorf("application still exists (%v)", err)
		}
		return nil
	})
}
