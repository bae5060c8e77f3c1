//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	crclient "sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/conditions"
	"github.com/plinth-io/plinth/internal/naming"
)

const (
	clusterShards   = 3
	clusterReplicas = 2 // a primary and one replica per shard
	// Six pods, created shard by shard in parallel and pod by pod within a
	// shard, on two shared cores.
	clusterToRunning = 8 * time.Minute
)

// redisClusterApplication is a Redis Cluster of plugin v1.1.0.
func redisClusterApplication(ns, name string) *plinthv1.Application {
	app := redisApplication(ns, name, "7.0", "cluster")
	app.Spec.PluginVersion = "v1.1.0"
	app.Spec.Components[0].Replicas = ptr[int32](clusterReplicas)
	app.Spec.Components[0].Shards = ptr[int32](clusterShards)
	return app
}

// redisCluster is go-redis' cluster client of one Application's Redis
// Cluster, seeded with every pod's stable name: it follows MOVED and ASK
// redirections, which name the nodes' stable hostnames
// (cluster-preferred-endpoint-type hostname), resolved through the cluster
// DNS. node gives a client of one pod.
type redisCluster struct {
	*redis.ClusterClient
	ns, app, password string
	nodes             map[string]*redis.Client
}

func newRedisCluster(t *testing.T, ns, app, password string) *redisCluster {
	rc := &redisCluster{ns: ns, app: app, password: password, nodes: map[string]*redis.Client{}}
	var seeds []string
	for _, pod := range clusterPods(app) {
		seeds = append(seeds, rc.addr(pod))
	}
	rc.ClusterClient = redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: seeds, Password: password, Dialer: dialResolved, MaxRedirects: 5,
		DialTimeout: 3 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
		DisableIdentity: true,
	})
	t.Cleanup(func() {
		rc.closeNodes()
		_ = rc.ClusterClient.Close()
	})
	return rc
}

// addr is pod's stable name and port, as the nodes announce it.
func (rc *redisCluster) addr(pod string) string {
	return pod + "." + naming.HeadlessService(naming.Component(rc.app, "redis")) + "." + rc.ns + ".svc:6379"
}

// reset forgets every connection and reloads the slot map (after pods were
// replaced, or an error).
func (rc *redisCluster) reset() {
	rc.closeNodes()
	rc.ReloadState(context.Background())
}

func (rc *redisCluster) closeNodes() {
	for pod, c := range rc.nodes {
		_ = c.Close()
		delete(rc.nodes, pod)
	}
}

// node is a client of one pod of the cluster.
func (rc *redisCluster) node(pod string) *redis.Client {
	if c, ok := rc.nodes[pod]; ok {
		return c
	}
	c := redis.NewClient(redisOptions(rc.addr(pod), rc.password))
	rc.nodes[pod] = c
	return c
}

// clusterPods lists the pods of clusterShards shards in shard-major,
// ordinal order.
func clusterPods(app string) []string { return shardPods(app, clusterShards) }

// shardPods lists the pods of shards [0, shards) in shard-major, ordinal
// order.
func shardPods(app string, shards int32) []string {
	comp := naming.Component(app, "redis")
	var pods []string
	for s := int32(0); s < shards; s++ {
		for o := int32(0); o < clusterReplicas; o++ {
			pods = append(pods, naming.Pod(naming.WorkloadSet(comp, s), o))
		}
	}
	return pods
}

// clusterHealthy: every node of the clusterShards shards reports
// cluster_state:ok with every slot assigned, and each shard has exactly one
// primary holding slots, followed by every other pod of its own shard.
func clusterHealthy(rc *redisCluster, ns, app string) error {
	return shardsHealthy(rc, ns, app, clusterShards)
}

// shardsHealthy is clusterHealthy for a cluster of shards shards.
func shardsHealthy(rc *redisCluster, ns, app string, shards int32) error {
	ctx := context.Background()
	ids := map[string]string{}
	for _, pod := range shardPods(app, shards) {
		info, err := rc.node(pod).ClusterInfo(ctx).Result()
		if err != nil {
			return fmt.Errorf("%s: %v", pod, err)
		}
		if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_assigned:16384") {
			return fmt.Errorf("%s: CLUSTER INFO %q", pod, info)
		}
		id, err := rc.node(pod).ClusterMyID(ctx).Result()
		if err != nil {
			return err
		}
		ids[pod] = id
	}
	nodes, err := rc.node(shardPods(app, shards)[0]).ClusterNodes(ctx).Result()
	if err != nil {
		return err
	}
	type line struct{ flags, master string }
	view := map[string]line{}
	for _, l := range strings.Split(strings.TrimSpace(nodes), "\n") {
		f := strings.Fields(l)
		if len(f) < 8 {
			continue
		}
		if len(f) > 8 && strings.Contains(f[2], "master") {
			f[3] = "slots"
		}
		view[f[0]] = line{flags: f[2], master: f[3]}
	}
	comp := naming.Component(app, "redis")
	for s := int32(0); s < shards; s++ {
		var primary string
		for o := int32(0); o < clusterReplicas; o++ {
			pod := naming.Pod(naming.WorkloadSet(comp, s), o)
			if view[ids[pod]].master == "slots" {
				if primary != "" {
					return fmt.Errorf("shard %d has two primaries holding slots: %s and %s", s, primary, pod)
				}
				primary = pod
			}
		}
		if primary == "" {
			return fmt.Errorf("shard %d has no primary holding slots (view %+v)", s, view)
		}
		for o := int32(0); o < clusterReplicas; o++ {
			pod := naming.Pod(naming.WorkloadSet(comp, s), o)
			if pod != primary && view[ids[pod]].master != ids[primary] {
				return fmt.Errorf("shard %d: %s follows %q, not its shard's primary %s", s, pod, view[ids[pod]].master, primary)
			}
		}
	}
	return nil
}

// onePrimaryPerShard: each shard's WorkloadSet designates one primary and
// exactly that pod carries the primary role label.
func onePrimaryPerShard(t *testing.T, ns, app string) error {
	comp := naming.Component(app, "redis")
	for s := int32(0); s < clusterShards; s++ {
		ws := &plinthv1.WorkloadSet{}
		if err := api(t).Get(context.Background(), crclient.ObjectKey{Namespace: ns, Name: naming.WorkloadSet(comp, s)}, ws); err != nil {
			return err
		}
		pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{
			LabelSelector: plinthv1.LabelComponent + "=" + comp + "," + plinthv1.LabelRole + "=primary"})
		if err != nil {
			return err
		}
		var labelled []string
		for _, p := range pods.Items {
			if strings.HasPrefix(p.Name, ws.Name+"-") {
				labelled = append(labelled, p.Name)
			}
		}
		if ws.Status.Primary == "" || len(labelled) != 1 || labelled[0] != ws.Status.Primary {
			return fmt.Errorf("shard %d: designated primary %q, pods labelled primary %v", s, ws.Status.Primary, labelled)
		}
	}
	return nil
}

func bootstrappedCondition(t *testing.T, ns, app string) (*metav1.Condition, error) {
	c := &plinthv1.Component{}
	if err := api(t).Get(context.Background(), crclient.ObjectKey{Namespace: ns, Name: naming.Component(app, "redis")}, c); err != nil {
		return nil, err
	}
	cond := conditions.Get(c.Status.Conditions, plinthv1.ConditionBootstrapped)
	if cond == nil {
		return nil, fmt.Errorf("no Bootstrapped condition: %+v", c.Status.Conditions)
	}
	return cond, nil
}

// A Redis Cluster of 3 shards (a primary and a replica each) is formed by
// the bootstrap action, serves keys of every slot, and survives every pod
// being deleted at once (new pod IPs).
func TestRedisCluster(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	const name = "rc"
	start := time.Now()
	if err := api(t).Create(ctx, redisClusterApplication(ns, name)); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, ns, name, plinthv1.ApplicationRunning, clusterToRunning)
	t.Logf("redis cluster %dx%d: Running after %s", clusterShards, clusterReplicas, time.Since(start).Round(time.Second))
	cond, err := bootstrappedCondition(t, ns, name)
	if err != nil || cond.Status != metav1.ConditionTrue {
		t.Fatalf("Bootstrapped: %+v %v", cond, err)
	}
	password := secretValue(t, ns, naming.CredentialsSecret(name), "password")
	rc := newRedisCluster(t, ns, name, password)
	if err := clusterHealthy(rc, ns, name); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, func() error { return onePrimaryPerShard(t, ns, name) })

	// Keys of every slot range, through MOVED redirections.
	const keys = 300
	eventually(t, time.Minute, func() error {
		for i := range keys {
			k := fmt.Sprintf("plinth:%d", i)
			if got, err := rc.Set(ctx, k, strconv.Itoa(i), 0).Result(); err != nil || got != "OK" {
				rc.reset()
				return fmt.Errorf("SET %s: %q %v", k, got, err)
			}
		}
		return nil
	})
	readAll := func() error {
		for i := range keys {
			k := fmt.Sprintf("plinth:%d", i)
			if got, err := rc.Get(ctx, k).Result(); err != nil || got != strconv.Itoa(i) {
				rc.reset()
				return fmt.Errorf("GET %s = %q, %v", k, got, err)
			}
		}
		return nil
	}
	if err := readAll(); err != nil {
		t.Fatal(err)
	}
	redisCLICluster(t, ns, name)
	for s, pod := range []string{clusterPods(name)[0], clusterPods(name)[2], clusterPods(name)[4]} {
		n, err := rc.node(pod).DBSize(ctx).Result()
		if err != nil || n == 0 {
			t.Errorf("shard %d primary %s holds %d keys (%v): keys should spread over every shard", s, pod, n, err)
		}
	}

	// Every pod deleted at once: they come back with new IPs and the
	// cluster finds itself again (nodes.conf on the PVCs, stable hostnames).
	before := map[string]types.UID{}
	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: plinthv1.LabelComponent + "=" + naming.Component(name, "redis")})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		before[p.Name] = p.UID
	}
	if len(before) != clusterShards*clusterReplicas {
		t.Fatalf("%d pods, want %d", len(before), clusterShards*clusterReplicas)
	}
	restart := time.Now()
	if err := client.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{
		LabelSelector: plinthv1.LabelComponent + "=" + naming.Component(name, "redis")}); err != nil {
		t.Fatal(err)
	}
	rc.reset()
	eventually(t, clusterToRunning, func() error {
		for pod, uid := range before {
			p, err := client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if p.UID == uid {
				return fmt.Errorf("pod %s not replaced yet", pod)
			}
			if !podIsReady(p) {
				return fmt.Errorf("pod %s not ready", pod)
			}
		}
		if err := clusterHealthy(rc, ns, name); err != nil {
			rc.reset()
			return err
		}
		return nil
	})
	t.Logf("redis cluster: ok again %s after every pod was deleted", time.Since(restart).Round(time.Second))
	eventually(t, 2*time.Minute, func() error { return readAll() })
	waitPhase(t, ns, name, plinthv1.ApplicationRunning, clusterToRunning)
	eventually(t, time.Minute, func() error { return onePrimaryPerShard(t, ns, name) })
}

// The component-controller's leader is killed while it runs the bootstrap
// action (its log says it started): the action is cut short, the standby
// takes over the Lease and runs it again, and it finishes what the first run
// began: one primary per shard, every replica in its own shard.
func TestRedisClusterLeaderKilledDuringBootstrap(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	const name = "rck"
	lease, err := client.CoordinationV1().Leases("plinth-system").Get(ctx, "component-controller.plinth.io", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil {
		t.Fatalf("lease of the component-controller: %v", err)
	}
	leader := strings.SplitN(*lease.Spec.HolderIdentity, "_", 2)[0]
	logs, err := client.CoreV1().Pods("plinth-system").GetLogs(leader, &corev1.PodLogOptions{Follow: true, SinceSeconds: ptr[int64](1)}).Stream(ctx)
	if err != nil {
		t.Fatalf("following the leader's log: %v", err)
	}
	defer logs.Close()
	started := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(logs)
		sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
		for sc.Scan() {
			if line := sc.Text(); strings.Contains(line, "running the bootstrap action") && strings.Contains(line, ns) {
				started <- line
				return
			}
		}
		close(started)
	}()
	if err := api(t).Create(ctx, redisClusterApplication(ns, name)); err != nil {
		t.Fatal(err)
	}
	select {
	case line, ok := <-started:
		if !ok {
			t.Fatalf("the leader's log ended before it ran the bootstrap action")
		}
		t.Logf("the leader %s started the bootstrap: %.300s", leader, line)
	case <-time.After(clusterToRunning):
		t.Fatalf("the leader %s never logged the bootstrap action", leader)
	}
	if err := client.CoreV1().Pods("plinth-system").Delete(ctx, leader, metav1.DeleteOptions{GracePeriodSeconds: ptr[int64](0)}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitPhase(t, ns, name, plinthv1.ApplicationRunning, clusterToRunning)
	t.Logf("Running %s after the leader was killed mid-bootstrap", time.Since(start).Round(time.Second))
	cond, err := bootstrappedCondition(t, ns, name)
	if err != nil || cond.Status != metav1.ConditionTrue {
		t.Fatalf("Bootstrapped: %+v %v", cond, err)
	}
	l, err := client.CoordinationV1().Leases("plinth-system").Get(ctx, "component-controller.plinth.io", metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil || strings.HasPrefix(*l.Spec.HolderIdentity, leader+"_") {
		t.Errorf("the Lease is still held by the killed leader %s (%v)", leader, err)
	}
	password := secretValue(t, ns, naming.CredentialsSecret(name), "password")
	rc := newRedisCluster(t, ns, name, password)
	eventually(t, time.Minute, func() error { rc.reset(); return clusterHealthy(rc, ns, name) })
	eventually(t, time.Minute, func() error { return onePrimaryPerShard(t, ns, name) })
	if got, err := rc.Set(ctx, "plinth:after-takeover", "yes", 0).Result(); err != nil || got != "OK" {
		t.Fatalf("SET after the takeover: %q %v", got, err)
	}
	waitControllersAvailable(t)
}

func podIsReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// lastLine is the last line of out: redis-cli -c prints "-> Redirected to
// slot ..." before the reply it followed.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// redisCLICluster: redis-cli -c, run in a cluster pod (its ops-agent
// container has redis-cli and the password in REDISCLI_AUTH) against the
// client Service, writes keys of several slots and reads them back through
// the redirections.
func redisCLICluster(t *testing.T, ns, app string) {
	t.Helper()
	comp := naming.Component(app, "redis")
	svc := naming.ClientService(comp) + "." + ns + ".svc"
	pod := clusterPods(app)[0]
	for _, k := range []string{"cli:a", "cli:b", "cli:c", "cli:d", "cli:e", "cli:f"} {
		eventually(t, time.Minute, func() error {
			if out, err := execIn(t, ns, pod, "ops-agent", "redis-cli", "-c", "-h", svc, "-p", "6379", "--no-auth-warning", "SET", k, "v-"+k); err != nil || lastLine(out) != "OK" {
				return fmt.Errorf("redis-cli -c SET %s: %q %v", k, out, err)
			}
			out, err := execIn(t, ns, pod, "ops-agent", "redis-cli", "-c", "-h", svc, "-p", "6379", "--no-auth-warning", "GET", k)
			if err != nil || lastLine(out) != "v-"+k {
				return fmt.Errorf("redis-cli -c GET %s: %q %v", k, out, err)
			}
			return nil
		})
	}
}
