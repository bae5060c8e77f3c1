//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	crclient "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/plinth-io/plinth/apis/statusreport"
	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/naming"
)

// replicatedRedis is a Redis Application of plugin v1.1.0 (the first with
// replicated topologies) with the given components (name → replicas).
func replicatedRedis(ns, name, topology string, replicas map[string]int32) *plinthv1.Application {
	app := &plinthv1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: plinthv1.ApplicationSpec{
			Plugin: "redis", PluginVersion: "v1.1.0", Version: "7.0", Topology: topology,
			TerminationPolicy: plinthv1.TerminationWipeOut,
		},
	}
	for _, c := range []string{"redis", "sentinel"} {
		n, ok := replicas[c]
		if !ok {
			continue
		}
		ac := plinthv1.ApplicationComponent{Name: c, Replicas: &n}
		if c == "redis" {
			ac.Storage = &plinthv1.StorageSpec{Size: resource.MustParse("256Mi")}
		}
		app.Spec.Components = append(app.Spec.Components, ac)
	}
	return app
}

// killLeaders deletes the pods holding the Leases of the given controllers.
func killLeaders(t *testing.T, controllers ...string) {
	t.Helper()
	ctx := context.Background()
	zero := int64(0)
	for _, c := range controllers {
		lease, err := client.CoordinationV1().Leases("plinth-system").Get(ctx, c+".plinth.io", metav1.GetOptions{})
		if err != nil || lease.Spec.HolderIdentity == nil {
			t.Fatalf("lease of %s: %v", c, err)
		}
		pod := strings.SplitN(*lease.Spec.HolderIdentity, "_", 2)[0]
		t.Logf("killing the leader of %s: pod %s", c, pod)
		if err := client.CoreV1().Pods("plinth-system").Delete(ctx, pod, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatalf("deleting %s: %v", pod, err)
		}
	}
	t.Cleanup(func() { waitControllersAvailable(t) })
}

// killLeadersDuringBootstrap waits until the first pod of namespace ns
// exists (the Application's pods are being created) and kills the leaders
// of controllers then.
func killLeadersDuringBootstrap(t *testing.T, ns string, controllers ...string) {
	t.Helper()
	eventually(t, time.Minute, func() error {
		pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil || len(pods.Items) == 0 {
			return fmt.Errorf("no pod yet (%v)", err)
		}
		return nil
	})
	killLeaders(t, controllers...)
}

// members is what the pods of a WorkloadSet report in their own status
// annotations (not the controller's summary).
type members struct {
	primaries []*corev1.Pod
	replicas  []*corev1.Pod
	others    []string
}

func (m members) String() string {
	var p, r []string
	for _, x := range m.primaries {
		p = append(p, x.Name)
	}
	for _, x := range m.replicas {
		r = append(r, x.Name)
	}
	return fmt.Sprintf("primaries %v, replicas %v, others %v", p, r, m.others)
}

func reportedRoles(t *testing.T, ns, ws string) members {
	t.Helper()
	pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: plinthv1.LabelWorkloadSet + "=" + ws})
	if err != nil {
		t.Fatal(err)
	}
	var out members
	for i := range pods.Items {
		p := &pods.Items[i]
		rep, err := statusreport.Parse([]byte(p.Annotations[plinthv1.AnnotationStatusReport]))
		switch {
		case err == nil && rep.Role == "primary":
			out.primaries = append(out.primaries, p)
		case err == nil && rep.Role == "replica" && rep.Healthy:
			out.replicas = append(out.replicas, p)
		default:
			out.others = append(out.others, p.Name)
		}
	}
	return out
}

// checkReplicatedRedis: exactly one pod reports primary, the read-write
// Service reaches it, a key written there is read back from every replica.
func checkReplicatedRedis(t *testing.T, ns, app string, replicas int, key, value string) (primary *corev1.Pod) {
	t.Helper()
	comp := naming.Component(app, "redis")
	ws := naming.WorkloadSet(comp, -1)
	password := secretValue(t, ns, naming.CredentialsSecret(app), "password")
	rw := serviceAddr(t, ns, naming.RoleService(comp, "primary"), 6379)

	var m members
	eventually(t, 2*time.Minute, func() error {
		m = reportedRoles(t, ns, ws)
		if len(m.primaries) != 1 || len(m.replicas) != replicas-1 {
			return fmt.Errorf("want 1 primary and %d healthy replicas: %s", replicas-1, m)
		}
		return nil
	})
	primary = m.primaries[0]
	if primary.Labels[plinthv1.LabelRole] != "primary" {
		t.Errorf("the pod reporting primary, %s, is labelled %q", primary.Name, primary.Labels[plinthv1.LabelRole])
	}
	// The read-write Service routes to the pod whose annotation says primary:
	// the server behind it announces that pod's stable name.
	eventually(t, time.Minute, func() error {
		return onRedis(rw, password, func(ctx context.Context, c *redis.Client) error {
			got, err := c.ConfigGet(ctx, "replica-announce-ip").Result()
			if err != nil {
				return err
			}
			if !strings.HasPrefix(got["replica-announce-ip"], primary.Name+".") {
				return fmt.Errorf("read-write Service reaches %q, want pod %s", got, primary.Name)
			}
			return c.Set(ctx, key, value, 0).Err()
		})
	})
	for _, p := range m.replicas {
		eventually(t, time.Minute, func() error {
			got, err := redisGet(p.Status.PodIP+":6379", password, key)
			if err != nil || got != value {
				return fmt.Errorf("replica %s: GET %s = %q %v", p.Name, key, got, err)
			}
			return nil
		})
	}
	return primary
}

// Redis replication 1+2: bootstrapped with its controllers killed midway,
// exactly one primary, data written through the read-write Service is on
// every replica.
func TestRedisReplication(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	app := replicatedRedis(ns, "repl", "replication", map[string]int32{"redis": 3})
	if err := api(t).Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	killLeadersDuringBootstrap(t, ns, "component-controller", "workloadset-controller")
	waitPhase(t, ns, "repl", plinthv1.ApplicationRunning, toRunning)
	t.Logf("redis replication 1+2: Running after %s (controllers killed during bootstrap)", time.Since(start).Round(time.Second))
	primary := checkReplicatedRedis(t, ns, "repl", 3, "plinth:repl", "v1")
	ws := &plinthv1.WorkloadSet{}
	if err := api(t).Get(ctx, crclient.ObjectKey{Namespace: ns, Name: naming.WorkloadSet(naming.Component("repl", "redis"), -1)}, ws); err != nil {
		t.Fatal(err)
	}
	if ws.Status.Primary != primary.Name || !ws.Status.Initialized {
		t.Errorf("WorkloadSet status primary=%q initialized=%v, want %s true", ws.Status.Primary, ws.Status.Initialized, primary.Name)
	}
}

// Redis with Sentinel 1+2 and 3 sentinels: the sentinels monitor the primary
// with a majority quorum; a failover made by Sentinel is followed by the
// read-write Service and no data is lost.
func TestRedisSentinel(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	app := replicatedRedis(ns, "sent", "sentinel", map[string]int32{"redis": 3, "sentinel": 3})
	if err := api(t).Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	killLeadersDuringBootstrap(t, ns, chain...)
	waitPhase(t, ns, "sent", plinthv1.ApplicationRunning, toRunning)
	t.Logf("redis sentinel 1+2 with 3 sentinels: Running after %s (every controller's leader killed during bootstrap)", time.Since(start).Round(time.Second))
	primary := checkReplicatedRedis(t, ns, "sent", 3, "plinth:before", "v1")

	sentinels := serviceAddr(t, ns, naming.ClientService(naming.Component("sent", "sentinel")), 26379)
	sentinel := sentinelClient(t, sentinels)
	eventually(t, 2*time.Minute, func() error {
		master, err := sentinel.GetMasterAddrByName(ctx, "sent").Result()
		if err != nil {
			return err
		}
		if len(master) != 2 || !strings.HasPrefix(master[0], primary.Name+".") {
			return fmt.Errorf("sentinel monitors %q, want pod %s", master, primary.Name)
		}
		info, err := sentinel.Master(ctx, "sent").Result()
		if err != nil {
			return err
		}
		if info["quorum"] != "2" || info["num-other-sentinels"] != "2" || info["num-slaves"] != "2" {
			return fmt.Errorf("sentinel sees quorum=%s other-sentinels=%s replicas=%s, want 2 2 2", info["quorum"], info["num-other-sentinels"], info["num-slaves"])
		}
		return nil
	})

	// Sentinel fails over; Plinth follows: the read-write Service moves to
	// the new primary and the data is there.
	if got, err := sentinel.Failover(ctx, "sent").Result(); err != nil || got != "OK" {
		t.Fatalf("SENTINEL FAILOVER = %q %v", got, err)
	}
	eventually(t, 2*time.Minute, func() error {
		m := reportedRoles(t, ns, naming.WorkloadSet(naming.Component("sent", "redis"), -1))
		if len(m.primaries) != 1 || m.primaries[0].Name == primary.Name {
			return fmt.Errorf("no new primary yet: %s", m)
		}
		return nil
	})
	newPrimary := checkReplicatedRedis(t, ns, "sent", 3, "plinth:after", "v2")
	t.Logf("sentinel failover: primary %s -> %s", primary.Name, newPrimary.Name)
	password := secretValue(t, ns, naming.CredentialsSecret("sent"), "password")
	if got, err := redisGet(newPrimary.Status.PodIP+":6379", password, "plinth:before"); err != nil || got != "v1" {
		t.Fatalf("key written before the failover: %q %v", got, err)
	}
	waitPhase(t, ns, "sent", plinthv1.ApplicationRunning, 2*time.Minute)
}
