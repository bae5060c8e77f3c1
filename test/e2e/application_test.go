//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	crclient "sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/naming"
)

const toRunning = 4 * time.Minute

// A standalone Redis: reaches Running, keeps data across a killed process, a
// deleted Pod and a stop/start, and Delete keeps its volume.
func TestRedisStandalone(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	app := redisApplication(ns, "cache", "7.0", "standalone")
	if err := api(t).Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	running := waitPhase(t, ns, "cache", plinthv1.ApplicationRunning, toRunning)
	t.Logf("redis standalone: Running after %s", time.Since(start).Round(time.Second))
	if running.Status.CredentialsSecret != naming.CredentialsSecret("cache") || len(running.Status.Endpoints) == 0 {
		t.Errorf("status lacks connection info: %+v", running.Status)
	}

	comp := naming.Component("cache", "redis")
	podName := naming.Pod(naming.WorkloadSet(comp, -1), 0)
	password := secretValue(t, ns, naming.CredentialsSecret("cache"), "password")
	addr := serviceAddr(t, ns, naming.ClientService(comp), 6379)
	// The first connection may race kube-proxy programming the new
	// endpoints, so it is retried briefly, as a client would.
	set := func(k, v string) {
		eventually(t, 30*time.Second, func() error {
			return onRedis(addr, password, func(ctx context.Context, c *redis.Client) error {
				return c.Set(ctx, k, v, 0).Err()
			})
		})
	}
	get := func(k string) (string, error) { return redisGet(addr, password, k) }
	set("plinth:greeting", "hello")

	// Kill redis-server inside the pod: procmgr starts it again, the Pod stays.
	before, err := client.CoreV1().Pods(ns).Get(ctx, podName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	killProcess(t, ns, podName, before.Spec.Containers[0].Name, "redis-server")
	eventually(t, 2*time.Minute, func() error {
		v, err := get("plinth:greeting")
		if err != nil || v != "hello" {
			return fmt.Errorf("after the kill: %q %v", v, err)
		}
		return nil
	})
	after, err := client.CoreV1().Pods(ns).Get(ctx, podName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.UID != before.UID {
		t.Errorf("the Pod was replaced (UID %s -> %s); procmgr should have restarted only the process", before.UID, after.UID)
	}
	for name, n := range restartCounts(after) {
		if restartCounts(before)[name] != n {
			t.Errorf("container %s restart count %d -> %d: the container restarted", name, restartCounts(before)[name], n)
		}
	}
	eventually(t, 2*time.Minute, func() error {
		m, err := member(t, ns, naming.WorkloadSet(comp, -1), podName)
		if err != nil {
			return err
		}
		if !m.Healthy || m.Role != "primary" {
			return fmt.Errorf("member %+v", m)
		}
		return nil
	})

	// Delete the Pod: it comes back with the same name and volume, data kept.
	claim := claimOf(before, "data")
	if claim == "" {
		t.Fatalf("pod %s has no data PVC: %+v", podName, before.Spec.Volumes)
	}
	if err := client.CoreV1().Pods(ns).Delete(ctx, podName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var back *corev1.Pod
	eventually(t, 3*time.Minute, func() error {
		p, err := client.CoreV1().Pods(ns).Get(ctx, podName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.UID == before.UID {
			return fmt.Errorf("old pod still there")
		}
		back = p
		return nil
	})
	if got := claimOf(back, "data"); got != claim {
		t.Errorf("recreated pod uses PVC %q, want %q", got, claim)
	}
	eventually(t, 3*time.Minute, func() error {
		v, err := get("plinth:greeting")
		if err != nil || v != "hello" {
			return fmt.Errorf("after the pod was recreated: %q %v", v, err)
		}
		return nil
	})

	// Stopped removes the pods and keeps the volume; started again, data is back.
	patchApp(t, ns, "cache", func(a *plinthv1.Application) { a.Spec.Stopped = true })
	waitPhase(t, ns, "cache", plinthv1.ApplicationStopped, 3*time.Minute)
	eventually(t, 2*time.Minute, func() error {
		if _, err := client.CoreV1().Pods(ns).Get(ctx, podName, metav1.GetOptions{}); !isGone(err) {
			return fmt.Errorf("pod still exists while stopped (%v)", err)
		}
		return nil
	})
	if _, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim, metav1.GetOptions{}); err != nil {
		t.Fatalf("PVC gone while stopped: %v", err)
	}
	patchApp(t, ns, "cache", func(a *plinthv1.Application) { a.Spec.Stopped = false })
	waitPhase(t, ns, "cache", plinthv1.ApplicationRunning, toRunning)
	eventually(t, 2*time.Minute, func() error {
		v, err := get("plinth:greeting")
		if err != nil || v != "hello" {
			return fmt.Errorf("after stop/start: %q %v", v, err)
		}
		return nil
	})

	// terminationPolicy Delete: everything goes but the volume.
	if err := api(t).Delete(ctx, app); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Minute, func() error {
		if err := api(t).Get(ctx, crclient.ObjectKeyFromObject(app), &plinthv1.Application{}); !isGone(err) {
			return fmt.Errorf("application still exists (%v)", err)
		}
		if _, err := client.CoreV1().Pods(ns).Get(ctx, podName, metav1.GetOptions{}); !isGone(err) {
			return fmt.Errorf("pod still exists (%v)", err)
		}
		return nil
	})
	if _, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim, metav1.GetOptions{}); err != nil {
		t.Errorf("terminationPolicy Delete removed the PVC: %v", err)
	}
}

// A standalone PostgreSQL: rows written through the Service survive the Pod's
// deletion.
func TestPostgreSQLStandalone(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	one := int32(1)
	app := &plinthv1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: ns},
		Spec: plinthv1.ApplicationSpec{
			Plugin: "postgresql", PluginVersion: "v1.0.0", Version: "15", Topology: "standalone",
			Components: []plinthv1.ApplicationComponent{{
				Name: "postgresql", Replicas: &one,
				Storage: &plinthv1.StorageSpec{Size: resource.MustParse("512Mi")},
			}},
			TerminationPolicy: plinthv1.TerminationWipeOut,
		},
	}
	if err := api(t).Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitPhase(t, ns, "orders", plinthv1.ApplicationRunning, toRunning)
	t.Logf("postgresql standalone: Running after %s", time.Since(start).Round(time.Second))

	comp := naming.Component("orders", "postgresql")
	secret := naming.CredentialsSecret("orders")
	dsn := fmt.Sprintf("postgres://%s:%s@%s/postgres?sslmode=disable&connect_timeout=5",
		secretValue(t, ns, secret, "username"), secretValue(t, ns, secret, "password"), serviceAddr(t, ns, naming.ClientService(comp), 5432))
	query := func(sql string, args ...any) (string, error) {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return "", err
		}
		defer c.Close(ctx)
		var out string
		err = c.QueryRow(ctx, sql, args...).Scan(&out)
		return out, err
	}
	exec := func(sql string) {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	// The first connection may race kube-proxy programming the new
	// endpoints, so it is retried briefly, as a client would (like Redis's).
	eventually(t, 30*time.Second, func() error {
		_, err := query("SELECT 'up'")
		return err
	})
	exec("CREATE TABLE orders (id int primary key, item text)")
	exec("INSERT INTO orders VALUES (1, 'plinth')")

	podName := naming.Pod(naming.WorkloadSet(comp, -1), 0)
	before, err := client.CoreV1().Pods(ns).Get(ctx, podName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().Pods(ns).Delete(ctx, podName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 4*time.Minute, func() error {
		p, err := client.CoreV1().Pods(ns).Get(ctx, podName, metav1.GetOptions{})
		if err != nil || p.UID == before.UID {
			return fmt.Errorf("pod not recreated yet (%v)", err)
		}
		item, err := query("SELECT item FROM orders WHERE id = $1", 1)
		if err != nil || item != "plinth" {
			return fmt.Errorf("row after the pod was recreated: %q %v", item, err)
		}
		return nil
	})

	// terminationPolicy WipeOut removes the volumes too.
	claim := claimOf(before, "data")
	if err := api(t).Delete(ctx, app); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Minute, func() error {
		if _, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim, metav1.GetOptions{}); !isGone(err) {
			return fmt.Errorf("PVC %s still exists under WipeOut (%v)", claim, err)
		}
		return nil
	})
}

// Invalid Applications end Ready=False with a precise message and create nothing.
func TestInvalidApplicationsCreateNothing(t *testing.T) {
	ctx := context.Background()
	two := int32(2)
	for _, tc := range []struct {
		name   string
		mutate func(*plinthv1.Application)
		reason string
		says   string
	}{
		{"unknown-plugin-version", func(a *plinthv1.Application) { a.Spec.PluginVersion = "v9.9.9" }, plinthv1.ReasonPluginNotFound, "v9.9.9"},
		{"too-many-replicas", func(a *plinthv1.Application) { a.Spec.Components[0].Replicas = &two }, plinthv1.ReasonInvalidComponents, "replicas"},
		{"bad-parameter", func(a *plinthv1.Application) {
			a.Spec.Components[0].Parameters = map[string]string{"maxmemory-policy": "forget-everything"}
		}, plinthv1.ReasonInvalidParameters, "maxmemory-policy"},
		{"unsupported-version", func(a *plinthv1.Application) { a.Spec.Version = "6.2" }, plinthv1.ReasonUnsupportedVersion, "6.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := namespace(t)
			app := redisApplication(ns, tc.name, "7.0", "standalone")
			tc.mutate(app)
			if err := api(t).Create(ctx, app); err != nil {
				t.Fatal(err)
			}
			eventually(t, time.Minute, func() error {
				a := &plinthv1.Application{}
				if err := api(t).Get(ctx, crclient.ObjectKeyFromObject(app), a); err != nil {
					return err
				}
				for _, c := range a.Status.Conditions {
					if c.Type == plinthv1.ConditionReady && c.Status == metav1.ConditionFalse && c.Reason == tc.reason && strings.Contains(c.Message, tc.says) {
						return nil
					}
				}
				return fmt.Errorf("conditions %+v", a.Status.Conditions)
			})
			if err := noComponents(t, ns); err != nil {
				t.Error(err)
			}
		})
	}
}

// DoNotTerminate refuses deletion until the policy changes.
func TestDoNotTerminate(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	app := redisApplication(ns, "keep", "7.0", "standalone")
	app.Spec.TerminationPolicy = plinthv1.TerminationDoNotTerminate
	if err := api(t).Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, ns, "keep", plinthv1.ApplicationRunning, toRunning)
	if err := api(t).Delete(ctx, app); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, func() error {
		a := &plinthv1.Application{}
		if err := api(t).Get(ctx, crclient.ObjectKeyFromObject(app), a); err != nil {
			return err
		}
		for _, c := range a.Status.Conditions {
			if c.Type == plinthv1.ConditionDeletionBlocked && c.Status == metav1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("no DeletionBlocked condition: %+v", a.Status.Conditions)
	})
	pod := naming.Pod(naming.WorkloadSet(naming.Component("keep", "redis"), -1), 0)
	if _, err := client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{}); err != nil {
		t.Fatalf("the pod of a DoNotTerminate Application went away: %v", err)
	}
	patchApp(t, ns, "keep", func(a *plinthv1.Application) { a.Spec.TerminationPolicy = plinthv1.TerminationDelete })
	eventually(t, 2*time.Minute, func() error {
		if err := api(t).Get(ctx, crclient.ObjectKeyFromObject(app), &plinthv1.Application{}); !isGone(err) {
			return fmt.Errorf("still there (%v)", err)
		}
		return nil
	})
}

func patchApp(t *testing.T, ns, name string, mutate func(*plinthv1.Application)) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		a := &plinthv1.Application{}
		if err := api(t).Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, a); err != nil {
			return err
		}
		mutate(a)
		return api(t).Update(context.Background(), a)
	})
}
