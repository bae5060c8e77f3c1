package plugins_test

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mwt "github.com/plinth-io/plinth/internal/middlewaretest"
	"github.com/plinth-io/plinth/pluginregistry"
)

// clusterFailoverArgv is the cluster topology's switchover action rendered
// for the node n, as the ops agent in its pod runs it.
func clusterFailoverArgv(t *testing.T, n node) []string {
	t.Helper()
	pv := redisPlugin(t)
	sw := pv.Topology("cluster").Components[0].Switchover
	if len(sw) != 1 {
		t.Fatalf("cluster switchover steps: %+v, want one", sw)
	}
	argv, err := pluginregistry.RenderAction(pv.Action(sw[0].Action), nil,
		pluginregistry.Context{Ports: map[string]int32{"redis": int32(n.port), "bus": int32(n.port + 10000)}})
	if err != nil {
		t.Fatal(err)
	}
	return argv
}

// serverPID is the process id redis-server n reports.
func serverPID(t *testing.T, n node) int {
	t.Helper()
	info, err := n.c.Info(context.Background(), "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			pid, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
	}
	t.Fatalf("no process_id in INFO server:\n%s", info)
	return 0
}

// The cluster switchover fails over only from a healthy view: while a peer
// is unreachable it refuses (the roles stay), once the peer is back it
// promotes the replica.
func TestRedisClusterFailoverActionWaitsForAHealthyView(t *testing.T) {
	nodes := startNodes(t, 6)
	if out, err := runBootstrap(t, bootstrapArgv(t, nodes, 3, 2)); err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, out)
	}
	checkFormed(t, nodes, 3, 2)
	candidate, primary, frozen := nodes[1], nodes[0], nodes[5]
	argv := clusterFailoverArgv(t, candidate)

	// Freeze another shard's replica: the candidate soon sees it failing.
	pid := serverPID(t, frozen)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	t.Cleanup(thaw)
	mwt.Eventually(t, 30*time.Second, "the candidate sees the frozen node failing", func() error {
		n := clusterNodes(t, candidate.c)[frozen.addr()]
		if !strings.Contains(n.flags, "fail") {
			return &flagsError{n.flags}
		}
		return nil
	})
	out, err := runAction(t, argv, 40*time.Second)
	if err == nil || !strings.Contains(out, "not healthy from this replica") || !strings.Contains(out, frozen.addr()) {
		t.Fatalf("failover with a peer unreachable: %v\n%s\nwant a refusal naming %s", err, out, frozen.addr())
	}
	if f := clusterNodes(t, candidate.c)[candidate.addr()].flags; !strings.Contains(f, "slave") {
		t.Fatalf("the refused candidate's flags are %s, want it still a replica", f)
	}

	thaw()
	out, err = runAction(t, argv, 40*time.Second)
	if err != nil {
		t.Fatalf("failover with every peer back: %v\n%s", err, out)
	}
	mwt.Eventually(t, 20*time.Second, "the candidate is the shard's primary", func() error {
		c := clusterNodes(t, candidate.c)[candidate.addr()].flags
		p := clusterNodes(t, primary.c)[primary.addr()].flags
		if !strings.Contains(c, "master") || !strings.Contains(p, "slave") {
			return &flagsError{"candidate " + c + ", old primary " + p}
		}
		return nil
	})
}

type flagsError struct{ flags string }

func (e *flagsError) Error() string { return "flags " + e.flags }
