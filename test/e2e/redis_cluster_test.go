//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

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

// redisCluster talks to a Redis Cluster the way a cluster-aware client does:
// it sends each command to the node its key's slot was last seen on (any
// node at first), follows MOVED (remembering the slot's new node) and ASK
// redirections, which name the nodes' stable hostnames
// (cluster-preferred-endpoint-type hostname), and forgets a node whose
// connection broke. It is not safe for concurrent use.
type redisCluster struct {
	t        *testing.T
	password string
	// seeds are every node, tried in turn while a slot's node is unknown.
	seeds []string
	seed  int
	slots map[int]string
	conns map[string]*redisConn
}

func newRedisCluster(t *testing.T, ns, app, password string) *redisCluster {
	comp := naming.Component(app, "redis")
	rc := &redisCluster{t: t, password: password, slots: map[int]string{}, conns: map[string]*redisConn{}}
	for _, pod := range clusterPods(app) {
		rc.seeds = append(rc.seeds, pod+"."+naming.HeadlessService(comp)+"."+ns+".svc:6379")
	}
	t.Cleanup(rc.reset)
	return rc
}

func (rc *redisCluster) reset() {
	for a := range rc.conns {
		rc.drop(a)
	}
	clear(rc.slots)
}

// drop closes the connection to a node and forgets the slots seen on it; a
// failing seed gives way to the next.
func (rc *redisCluster) drop(hostport string) {
	if c, ok := rc.conns[hostport]; ok {
		c.close()
		delete(rc.conns, hostport)
	}
	for slot, a := range rc.slots {
		if a == hostport {
			delete(rc.slots, slot)
		}
	}
	if rc.seeds[rc.seed] == hostport {
		rc.seed = (rc.seed + 1) % len(rc.seeds)
	}
}

// keySlot is Redis Cluster's hash slot of a key: CRC16 (XMODEM) of the key,
// or of its {hash tag}, modulo 16384.
func keySlot(key string) int {
	if s := strings.IndexByte(key, '{'); s >= 0 {
		if e := strings.IndexByte(key[s+1:], '}'); e > 0 {
			key = key[s+1 : s+1+e]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc % 16384)
}

// conn returns an authenticated connection to host:port, resolving the
// pod's name through the cluster DNS.
func (rc *redisCluster) conn(hostport string) (*redisConn, error) {
	if c, ok := rc.conns[hostport]; ok {
		return c, nil
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(host, ".svc") {
		host += ".cluster.local"
	}
	ips, err := resolver().LookupHost(context.Background(), host)
	if err != nil {
		return nil, err
	}
	c, err := dialRedisErr(net.JoinHostPort(ips[0], port))
	if err != nil {
		return nil, err
	}
	if got, err := c.command("AUTH", rc.password); err != nil || got != "OK" {
		c.close()
		return nil, fmt.Errorf("AUTH on %s: %q %v", hostport, got, err)
	}
	rc.conns[hostport] = c
	return c, nil
}

// do runs one command (its key, if any, second) on the node owning the key,
// following up to five redirections. An error reply or a broken connection
// is returned, not retried: the caller decides.
func (rc *redisCluster) do(args ...string) (string, error) {
	slot := -1
	if len(args) > 1 {
		slot = keySlot(args[1])
	}
	addr, known := rc.slots[slot]
	if !known {
		addr = rc.seeds[rc.seed]
	}
	asking := false
	for range 5 {
		c, err := rc.conn(addr)
		if err != nil {
			rc.drop(addr)
			return "", fmt.Errorf("%s: %w", addr, err)
		}
		if asking {
			if _, err := c.command("ASKING"); err != nil {
				rc.drop(addr)
				return "", fmt.Errorf("%s: ASKING: %w", addr, err)
			}
		}
		got, err := c.command(args...)
		if err == nil {
			return got, nil
		}
		msg, isReply := strings.CutPrefix(err.Error(), "redis error: ")
		f := strings.Fields(msg)
		switch {
		case len(f) == 3 && f[0] == "MOVED":
			addr, asking = f[2], false
			rc.slots[slot] = addr
			continue
		case len(f) == 3 && f[0] == "ASK":
			// The slot is migrating: this key only, once, on that node.
			addr, asking = f[2], true
			continue
		case isReply:
			// CLUSTERDOWN, TRYAGAIN, READONLY...: the connection is fine,
			// the slot's node may have changed.
			delete(rc.slots, slot)
		default:
			rc.drop(addr)
		}
		return "", fmt.Errorf("%s: %w", addr, err)
	}
	return "", fmt.Errorf("%s: too many redirections", strings.Join(args, " "))
}

// node runs a command on one pod.
func (rc *redisCluster) node(ns, app, pod string, args ...string) (string, error) {
	addr := pod + "." + naming.HeadlessService(naming.Component(app, "redis")) + "." + ns + ".svc:6379"
	c, err := rc.conn(addr)
	if err != nil {
		return "", err
	}
	got, err := c.command(args...)
	if err != nil && !strings.HasPrefix(err.Error(), "redis error: ") {
		rc.drop(addr)
	}
	return got, err
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
	ids := map[string]string{}
	for _, pod := range shardPods(app, shards) {
		info, err := rc.node(ns, app, pod, "CLUSTER", "INFO")
		if err != nil {
			return fmt.Errorf("%s: %v", pod, err)
		}
		if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_assigned:16384") {
			return fmt.Errorf("%s: CLUSTER INFO %q", pod, info)
		}
		id, err := rc.node(ns, app, pod, "CLUSTER", "MYID")
		if err != nil {
			return err
		}
		ids[pod] = id
	}
	nodes, err := rc.node(ns, app, shardPods(app, shards)[0], "CLUSTER", "NODES")
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
			if got, err := rc.do("SET", k, strconv.Itoa(i)); err != nil || got != "OK" {
				rc.reset()
				return fmt.Errorf("SET %s: %q %v", k, got, err)
			}
		}
		return nil
	})
	readAll := func() error {
		for i := range keys {
			k := fmt.Sprintf("plinth:%d", i)
			if got, err := rc.do("GET", k); err != nil || got != strconv.Itoa(i) {
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
		n, err := rc.node(ns, name, pod, "DBSIZE")
		if err != nil || n == "0" {
			t.Errorf("shard %d primary %s holds %s keys (%v): keys should spread over every shard", s, pod, n, err)
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
	if got, err := rc.do("SET", "plinth:after-takeover", "yes"); err != nil || got != "OK" {
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
