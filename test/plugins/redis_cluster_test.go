package plugins_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	mwt "github.com/plinth-io/plinth/internal/middlewaretest"
	"github.com/plinth-io/plinth/pluginregistry"
)

const password = "cluster-test-pw"

// node is one redis-server in cluster mode on 127.0.0.1.
type node struct {
	port int
	c    *redis.Client
	argv []string // how it was started (to restart it)
}

func (n node) addr() string { return "127.0.0.1:" + strconv.Itoa(n.port) }

// clusterPort is a free port whose cluster bus port (port + 10000, what
// CLUSTER MEET assumes) is free too.
func clusterPort(t *testing.T) int {
	t.Helper()
	for range 100 {
		p := mwt.FreePort(t)
		if p+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+10000))
		if err != nil {
			continue
		}
		_ = l.Close()
		return p
	}
	t.Fatal("no free port pair for a cluster node")
	return 0
}

// startNodes starts n empty cluster-mode redis-servers, as the plugin
// configures them.
func startNodes(t *testing.T, n int) []node {
	t.Helper()
	mwt.Need(t, "redis-server", "redis-cli", "getent", "awk")
	var nodes []node
	for range n {
		port, dir := clusterPort(t), t.TempDir()
		argv := append([]string{"redis-server"}, mwt.RedisArgs(port, dir,
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-node-timeout", "5000", "--cluster-allow-replica-migration", "no",
			"--requirepass", password, "--masterauth", password)...)
		mwt.StartProcess(t, nil, argv...)
		c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), Password: password, MaxRetries: -1, DialTimeout: 2 * time.Second})
		t.Cleanup(func() { _ = c.Close() })
		mwt.Eventually(t, 30*time.Second, "redis answers PING", func() error { return mwt.Ping(context.Background(), c) })
		nodes = append(nodes, node{port: port, c: c, argv: argv})
	}
	return nodes
}

// bootstrapArgv is the plugin's cluster-bootstrap action rendered for
// members, as the ops agent runs it.
func bootstrapArgv(t *testing.T, nodes []node, shards, replicas int) []string {
	t.Helper()
	return clusterActionArgv(t, func(tc pluginregistry.TopologyComponent) string { return tc.Bootstrap.Action }, nodes, shards, replicas)
}

// redisPlugin is plugin redis v1.1.0 as the registry builds it.
func redisPlugin(t *testing.T) *pluginregistry.PluginVersion {
	t.Helper()
	src, err := pluginregistry.FromFolder("../../plugins/redis/v1.1.0", pluginregistry.DefaultNamespace)
	if err != nil {
		t.Fatal(err)
	}
	pv, err := pluginregistry.Build(src.Plugin, src.Version, src.ConfigMaps)
	if err != nil {
		t.Fatal(err)
	}
	return pv
}

// clusterActionArgv renders the cluster topology's action that pick names
// (bootstrap, scale-out, scale-in) for members, as the ops agent runs it.
func clusterActionArgv(t *testing.T, pick func(pluginregistry.TopologyComponent) string, nodes []node, shards, replicas int) []string {
	t.Helper()
	pv := redisPlugin(t)
	action := pv.Action(pick(pv.Topology("cluster").Components[0]))
	var members []string
	for _, n := range nodes {
		members = append(members, n.addr())
	}
	argv, err := pluginregistry.RenderAction(action, map[string]string{
		pluginregistry.BootstrapMembers:  strings.Join(members, " "),
		pluginregistry.BootstrapShards:   strconv.Itoa(shards),
		pluginregistry.BootstrapReplicas: strconv.Itoa(replicas),
	}, pluginregistry.Context{Ports: map[string]int32{"redis": 6379, "bus": 16379}})
	if err != nil {
		t.Fatal(err)
	}
	return argv
}

func runBootstrap(t *testing.T, argv []string) (string, error) {
	t.Helper()
	return runAction(t, argv, 100*time.Second)
}

// runAction runs argv as the ops agent does: in its own process group,
// killed whole when timeout passes.
func runAction(t *testing.T, argv []string, timeout time.Duration) (string, error) {
	t.Helper()
	return runActionUntil(t, argv, timeout, "")
}

// runActionUntil is runAction that also kills the process group as soon
// as the output has a line starting with cut (when cut is not empty).
func runActionUntil(t *testing.T, argv []string, timeout time.Duration, cut string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+password)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	var out strings.Builder
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if cut != "" && strings.HasPrefix(sc.Text(), cut) {
			cancel()
		}
	}
	_ = r.Close()
	return out.String(), cmd.Wait()
}

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	id, addr, flags, master string
	slots                   []string
}

func clusterNodes(t *testing.T, c *redis.Client) map[string]clusterNode {
	t.Helper()
	raw, err := c.ClusterNodes(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]clusterNode{}
	for _, line := range strings.Split(strings.TrimSpace(raw), "\n") {
		f := strings.Fields(line)
		addr, _, _ := strings.Cut(f[1], "@")
		out[addr] = clusterNode{id: f[0], addr: addr, flags: f[2], master: f[3], slots: f[8:]}
	}
	return out
}

// checkFormed: each shard's ordinal 0 holds the shard's even slot range,
// every other member of the shard replicates it, the cluster is ok.
func checkFormed(t *testing.T, nodes []node, shards, replicas int) {
	t.Helper()
	view := clusterNodes(t, nodes[0].c)
	if len(view) != len(nodes) {
		t.Fatalf("node 0 sees %d nodes, want %d: %+v", len(view), len(nodes), view)
	}
	for s := range shards {
		primary := view[nodes[s*replicas].addr()]
		want := fmt.Sprintf("%d-%d", s*16384/shards, (s+1)*16384/shards-1)
		if !strings.Contains(primary.flags, "master") || strings.Join(primary.slots, " ") != want {
			t.Errorf("shard %d primary %s: flags %s slots %v, want master with %s", s, primary.addr, primary.flags, primary.slots, want)
		}
		for o := 1; o < replicas; o++ {
			r := view[nodes[s*replicas+o].addr()]
			if !strings.Contains(r.flags, "slave") || r.master != primary.id {
				t.Errorf("shard %d member %d (%s): flags %s master %s, want a replica of its shard's primary %s", s, o, r.addr, r.flags, r.master, primary.id)
			}
		}
	}
	for _, n := range nodes {
		info, err := n.c.ClusterInfo(context.Background()).Result()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_assigned:16384") {
			t.Errorf("node %s: %s", n.addr(), info)
		}
	}
}

// TestRedisClusterBootstrap forms 3 shards of a primary and a replica with
// the plugin's action, checks a cluster client can use every slot, and
// checks a second run changes nothing.
func TestRedisClusterBootstrap(t *testing.T) {
	nodes := startNodes(t, 6)
	argv := bootstrapArgv(t, nodes, 3, 2)
	out, err := runBootstrap(t, argv)
	if err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, out)
	}
	t.Logf("first run:\n%s", out)
	checkFormed(t, nodes, 3, 2)

	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.addr())
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, Password: password})
	defer cc.Close()
	ctx := context.Background()
	for i := range 200 {
		if err := cc.Set(ctx, fmt.Sprintf("key-%d", i), i, 0).Err(); err != nil {
			t.Fatalf("SET key-%d: %v", i, err)
		}
	}
	for i := range 200 {
		if v, err := cc.Get(ctx, fmt.Sprintf("key-%d", i)).Int(); err != nil || v != i {
			t.Fatalf("GET key-%d = %d, %v", i, v, err)
		}
	}
	for s := range 3 {
		if n, err := nodes[s*2].c.DBSize(ctx).Result(); err != nil || n == 0 {
			t.Errorf("shard %d primary holds %d keys (%v): the keys should spread over every shard", s, n, err)
		}
	}

	out, err = runBootstrap(t, argv)
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	if strings.TrimSpace(out) != "cluster ok: 3 shards, 6 nodes, 16384 slots" {
		t.Errorf("a second run must change nothing; it printed:\n%s", out)
	}
	checkFormed(t, nodes, 3, 2)
}

// TestRedisClusterBootstrapResumes finishes a bootstrap interrupted after
// some slots were assigned, some nodes met and one replica attached.
func TestRedisClusterBootstrapResumes(t *testing.T) {
	nodes := startNodes(t, 6)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(nodes[0].c.ClusterAddSlotsRange(ctx, 0, 5460).Err())
	must(nodes[2].c.ClusterAddSlotsRange(ctx, 5461, 8000).Err()) // shard 1 half done
	for _, i := range []int{1, 2} {
		must(nodes[0].c.ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(nodes[i].port)).Err())
	}
	id0, err := nodes[0].c.ClusterMyID(ctx).Result()
	must(err)
	mwt.Eventually(t, 30*time.Second, "node 1 knows node 0", func() error {
		if n, ok := clusterNodes(t, nodes[1].c)[nodes[0].addr()]; !ok || n.id != id0 {
			return fmt.Errorf("not yet (handshake)")
		}
		return nil
	})
	must(nodes[1].c.ClusterReplicate(ctx, id0).Err())

	out, err := runBootstrap(t, bootstrapArgv(t, nodes, 3, 2))
	if err != nil {
		t.Fatalf("resumed bootstrap: %v\n%s", err, out)
	}
	t.Logf("resumed run:\n%s", out)
	for _, want := range []string{"shard 1: slots 8001-10921 assigned", "shard 2: slots 10922-16383 assigned"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "shard 0: slots") || strings.Contains(out, "shard 0: 127.0.0.1:"+strconv.Itoa(nodes[1].port)+" replicates") {
		t.Errorf("what was done must not be redone:\n%s", out)
	}
	checkFormed(t, nodes, 3, 2)
}

// TestRedisClusterBootstrapRefusesBadInput: a member count that does not
// match shards × replicas is an error naming the numbers.
func TestRedisClusterBootstrapRefusesBadInput(t *testing.T) {
	nodes := startNodes(t, 3)
	out, err := runBootstrap(t, bootstrapArgv(t, nodes, 3, 2))
	if err == nil || !strings.Contains(out, "3 members given for 3 shards of 2: expected 6") {
		t.Fatalf("err %v, output:\n%s", err, out)
	}
}
