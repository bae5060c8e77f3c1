package plugins_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	mwt "github.com/plinth-io/plinth/internal/middlewaretest"
	"github.com/plinth-io/plinth/pluginregistry"
)

func scaleOutAction(tc pluginregistry.TopologyComponent) string { return tc.Reshard.ScaleOut.Action }
func scaleInAction(tc pluginregistry.TopologyComponent) string  { return tc.Reshard.ScaleIn.Action }

// slotCounts maps each primary's address to the number of slots it holds,
// as nodes[0] sees it.
func slotCounts(t *testing.T, c *redis.Client) map[string]int {
	t.Helper()
	out := map[string]int{}
	for addr, n := range clusterNodes(t, c) {
		if !strings.Contains(n.flags, "master") {
			continue
		}
		c, err := mwt.CountSlots(n.slots)
		if err != nil {
			t.Errorf("%s: %v", addr, err)
		}
		out[addr] = c
	}
	return out
}

// checkResharded: the first shards groups form the cluster, each primary
// (ordinal 0) holding an even share of the slots to within 2% and followed
// by its shard's replicas; every node agrees the cluster is ok.
func checkResharded(t *testing.T, nodes []node, shards, replicas int) {
	t.Helper()
	kept := nodes[:shards*replicas]
	view := clusterNodes(t, kept[0].c)
	if len(view) != len(kept) {
		t.Fatalf("node 0 sees %d nodes, want %d: %+v", len(view), len(kept), view)
	}
	counts := slotCounts(t, kept[0].c)
	total := 0
	for s := range shards {
		p := view[kept[s*replicas].addr()]
		share := 16384 / shards
		if got := counts[p.addr]; got*100 < share*98 {
			t.Errorf("shard %d primary %s holds %d slots, want about %d", s, p.addr, got, share)
		}
		for o := 1; o < replicas; o++ {
			r := view[kept[s*replicas+o].addr()]
			if !strings.Contains(r.flags, "slave") || r.master != p.id {
				t.Errorf("shard %d member %d (%s): flags %s master %s, want a replica of %s", s, o, r.addr, r.flags, r.master, p.id)
			}
		}
	}
	for _, c := range counts {
		total += c
	}
	if total != 16384 {
		t.Errorf("%d slots assigned: %v", total, counts)
	}
	for _, n := range kept {
		info, err := n.c.ClusterInfo(context.Background()).Result()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", len(kept))) {
			t.Errorf("node %s: %s", n.addr(), info)
		}
	}
}

// writeKeys writes keys [from, to) through a cluster client.
func writeKeys(t *testing.T, cc *redis.ClusterClient, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := cc.Set(context.Background(), fmt.Sprintf("key-%d", i), i, 0).Err(); err != nil {
			t.Fatalf("SET key-%d: %v", i, err)
		}
	}
}

// readKeys reads back keys [0, to) through a cluster client. The client
// first reloads its slot map: a node reset by scale-in answers CLUSTERDOWN,
// not MOVED, to a client that still thinks it owns slots.
func readKeys(t *testing.T, cc *redis.ClusterClient, to int) {
	t.Helper()
	cc.ReloadState(context.Background())
	for i := range to {
		if v, err := cc.Get(context.Background(), fmt.Sprintf("key-%d", i)).Int(); err != nil || v != i {
			t.Fatalf("GET key-%d = %d, %v", i, v, err)
		}
	}
}

func clusterClient(t *testing.T, nodes []node) *redis.ClusterClient {
	var addrs []string
	for _, n := range nodes[:2] {
		addrs = append(addrs, n.addr())
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, Password: password, MaxRedirects: 16})
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// TestRedisClusterReshard scales a 3-shard cluster of a primary and a
// replica to 4 shards and back with the plugin's reshard actions, with keys
// written before and between the steps: every key is read back, the slots
// end evenly spread, the leaving nodes are reset (a restart does not bring
// them back) and forgotten, and second runs change nothing.
func TestRedisClusterReshard(t *testing.T) {
	nodes := startNodes(t, 8)
	if out, err := runBootstrap(t, bootstrapArgv(t, nodes[:6], 3, 2)); err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, out)
	}
	cc := clusterClient(t, nodes)
	writeKeys(t, cc, 0, 1000)

	start := time.Now()
	out, err := runAction(t, clusterActionArgv(t, scaleOutAction, nodes, 4, 2), 5*time.Minute)
	if err != nil {
		t.Fatalf("scale-out: %v\n%s", err, out)
	}
	t.Logf("scale-out to 4 shards in %s:\n%s", time.Since(start).Round(time.Millisecond), out)
	checkResharded(t, nodes, 4, 2)
	if n, err := nodes[6].c.DBSize(context.Background()).Result(); err != nil || n == 0 {
		t.Errorf("the new shard's primary holds %d keys (%v): some keys should have moved to it", n, err)
	}
	readKeys(t, cc, 1000)
	writeKeys(t, cc, 1000, 2000)
	if out, err := runAction(t, clusterActionArgv(t, scaleOutAction, nodes, 4, 2), time.Minute); err != nil || strings.TrimSpace(out) != "cluster ok: 4 shards, 8 nodes, 16384 slots" {
		t.Errorf("a second scale-out run must change nothing: %v\n%s", err, out)
	}

	leaving := map[string]string{}
	for _, n := range nodes[6:] {
		id, err := n.c.ClusterMyID(context.Background()).Result()
		if err != nil {
			t.Fatal(err)
		}
		leaving[n.addr()] = id
	}
	start = time.Now()
	out, err = runAction(t, clusterActionArgv(t, scaleInAction, nodes, 3, 2), 5*time.Minute)
	if err != nil {
		t.Fatalf("scale-in: %v\n%s", err, out)
	}
	t.Logf("scale-in to 3 shards in %s:\n%s", time.Since(start).Round(time.Millisecond), out)
	checkResharded(t, nodes, 3, 2)
	readKeys(t, cc, 2000)
	for _, n := range nodes[:6] {
		for addr, id := range leaving {
			if _, ok := clusterNodes(t, n.c)[addr]; ok {
				t.Errorf("%s still knows the leaving node %s (%s)", n.addr(), addr, id)
			}
		}
	}
	// A leaving node restarted (procmgr would) knows only itself.
	for _, n := range nodes[6:] {
		_ = n.c.Shutdown(context.Background()).Err()
		mwt.StartProcess(t, nil, n.argv...)
		mwt.Eventually(t, 30*time.Second, "the restarted node answers PING", func() error { return mwt.Ping(context.Background(), n.c) })
		if v := clusterNodes(t, n.c); len(v) != 1 {
			t.Errorf("the leaving node %s knows %d nodes after a restart: %+v", n.addr(), len(v), v)
		}
		if n, err := n.c.DBSize(context.Background()).Result(); err != nil || n != 0 {
			t.Errorf("a leaving node holds %d keys (%v)", n, err)
		}
	}
	time.Sleep(6 * time.Second) // a gossip round or more: nobody brings them back
	checkResharded(t, nodes, 3, 2)
	if out, err := runAction(t, clusterActionArgv(t, scaleInAction, nodes, 3, 2), time.Minute); err != nil || strings.TrimSpace(out) != "cluster ok: 3 shards, 6 nodes, 16384 slots" {
		t.Errorf("a second scale-in run must change nothing: %v\n%s", err, out)
	}
}

// TestRedisClusterReshardResumes cuts scale-out and scale-in runs short
// while they move slots (the process group killed, as the ops agent does at
// its deadline, leaving a slot MIGRATING/IMPORTING); the next run finishes
// the move and no key is lost.
func TestRedisClusterReshardResumes(t *testing.T) {
	nodes := startNodes(t, 8)
	if out, err := runBootstrap(t, bootstrapArgv(t, nodes[:6], 3, 2)); err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, out)
	}
	cc := clusterClient(t, nodes)
	writeKeys(t, cc, 0, 3000)
	for _, step := range []struct {
		name   string
		pick   func(pluginregistry.TopologyComponent) string
		shards int
	}{{"scale-out", scaleOutAction, 4}, {"scale-in", scaleInAction, 3}} {
		argv := clusterActionArgv(t, step.pick, nodes, step.shards, 2)
		cut := false
		for _, after := range []time.Duration{3 * time.Second, 4 * time.Second, 5 * time.Second} {
			out, err := runAction(t, argv, after)
			if err == nil {
				break // it finished before the cut: the next try cuts later in vain
			}
			cut = true
			t.Logf("%s cut after %s:\n%s", step.name, after, out)
		}
		if !cut {
			t.Fatalf("%s: no run was cut short; the test proves nothing", step.name)
		}
		out, err := runAction(t, argv, 5*time.Minute)
		if err != nil {
			t.Fatalf("%s resumed: %v\n%s", step.name, err, out)
		}
		t.Logf("%s resumed:\n%s", step.name, out)
		checkResharded(t, nodes, step.shards, 2)
		readKeys(t, cc, 3000)
	}

	// Out again, then in, cut right after the first leaving node was reset
	// (the others still know its old ID): the next run forgets it.
	if out, err := runAction(t, clusterActionArgv(t, scaleOutAction, nodes, 4, 2), 5*time.Minute); err != nil {
		t.Fatalf("scale-out again: %v\n%s", err, out)
	}
	argv := clusterActionArgv(t, scaleInAction, nodes, 3, 2)
	out, err := runActionUntil(t, argv, 5*time.Minute, "reset the leaving node")
	if err == nil {
		t.Fatalf("the scale-in was not cut after the first reset:\n%s", out)
	}
	t.Logf("scale-in cut after a reset:\n%s", out)
	if out, err = runAction(t, argv, 5*time.Minute); err != nil {
		t.Fatalf("scale-in resumed after a reset: %v\n%s", err, out)
	}
	t.Logf("scale-in resumed after a reset:\n%s", out)
	checkResharded(t, nodes, 3, 2)
	readKeys(t, cc, 3000)
}
