package plugins_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plinth-io/plinth/internal/middlewaretest"
)

// follow runs the follow sidecar's loop (follow.sh) for the pod, with the
// sidecar's environment, until the test ends; it returns its output.
func (p *pod) follow() *syncBuffer {
	t := p.c.t
	t.Helper()
	cmd := exec.Command("/bin/sh", filepath.Join(p.c.conf, "follow.sh"))
	cmd.Env = []string{
		"PATH=" + middlewaretest.PostgresBin + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"POD_NAME=" + p.name,
		"PGPASSWORD=" + pgPassword,
		"PLINTH_TOPOLOGY_DIR=" + p.topology,
		"PLINTH_SOCKET_DIR=" + p.sock,
		"PLINTH_FOLLOW_INTERVAL=1",
		"PLINTH_SLOT_GRACE=3",
		"LANG=C.UTF-8",
	}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("PLINTH_TEST_SHOW_OUTPUT") != "" {
			t.Logf("output of follow.sh in %s:\n%s", p.name, out.String())
		}
	})
	middlewaretest.StartCommand(t, cmd) // its cleanup, run first, kills it
	return out
}

// replicationSet starts a primary and standbys, each under a procmgr-like
// supervisor and with its follow loop, and waits until every standby streams.
func replicationSet(t *testing.T, c *cluster, n int) []*pod {
	t.Helper()
	var pods []*pod
	for i := range n {
		pods = append(pods, c.pod(fmt.Sprintf("orders-postgresql-%d", i), fmt.Sprintf("127.0.0.%d", i+2)))
	}
	p0 := pods[0]
	for _, p := range pods {
		p.setTopology(p0.name, p0.ip, false)
	}
	p0.supervise()
	p0.waitQuery(2*time.Minute, "false", "SELECT pg_is_in_recovery()::text")
	p0.exec("CREATE TABLE orders (id int primary key, item text)")
	p0.exec("INSERT INTO orders VALUES (1, 'before the switchover')")
	for _, p := range pods {
		p.setTopology(p0.name, p0.ip, true)
	}
	for _, p := range pods[1:] {
		p.supervise()
	}
	for _, p := range pods {
		p.follow()
	}
	p0.waitQuery(2*time.Minute, fmt.Sprint(n-1), "SELECT count(*)::text FROM pg_stat_replication WHERE state = 'streaming' AND application_name LIKE 'orders-postgresql-%'")
	return pods
}

// startTime is when the postmaster started: a restart changes it.
func (p *pod) startTime() string {
	p.c.t.Helper()
	return p.mustQuery("SELECT pg_postmaster_start_time()::text")
}

// The switchover actions as the workloadset-controller runs them before a
// rolling update replaces the primary: switchover-demote on the primary
// (stopped cleanly, back as the candidate's standby), then
// switchover-promote on the candidate. The other standby follows the new
// primary without a restart (follow.sh), and the former primary, restarted
// as the rolling update does, is a plain standby without the slots it kept.
func TestPostgreSQLSwitchoverActions(t *testing.T) {
	c := newCluster(t)
	c.ctx.Component.Replicas = 3
	pods := replicationSet(t, c, 3)
	p0, p1, p2 := pods[0], pods[1], pods[2]
	p0.exec("INSERT INTO orders SELECT g, 'row ' || g FROM generate_series(2, 500) g")
	started2 := p2.startTime()

	// Refusals that touch nothing: the candidate must stream from the
	// primary, and the candidate is not promoted while the primary is one.
	if out, err := p0.tryAction("switchover-demote", map[string]string{"candidate": "orders-postgresql-9", "candidateHost": "127.0.0.99"}); err == nil || !strings.Contains(out, "does not stream") {
		t.Errorf("switchover-demote to a pod that does not stream: %v %q, want a refusal", err, out)
	}
	if out, err := p1.tryAction("switchover-promote", map[string]string{"primary": p0.name, "primaryHost": p0.ip}); err == nil || !strings.Contains(out, "still a primary") {
		t.Errorf("switchover-promote while %s is the primary: %v %q, want a refusal", p0.name, err, out)
	}
	p0.waitQuery(10*time.Second, "false", "SELECT pg_is_in_recovery()::text")
	p1.waitQuery(10*time.Second, "true", "SELECT pg_is_in_recovery()::text")

	began := time.Now()
	out := p0.action("switchover-demote", map[string]string{"candidate": p1.name, "candidateHost": p1.ip})
	if !strings.Contains(out, "this pod is its standby now") {
		t.Errorf("switchover-demote said:\n%s", out)
	}
	// Both are standbys now: no primary, never two.
	p0.waitQuery(10*time.Second, "true", "SELECT pg_is_in_recovery()::text")
	p1.waitQuery(10*time.Second, "true", "SELECT pg_is_in_recovery()::text")
	if got := p0.action("switchover-demote", map[string]string{"candidate": p1.name, "candidateHost": p1.ip}); !strings.Contains(got, "already a standby") {
		t.Errorf("switchover-demote issued again: %q", got)
	}
	out = p1.action("switchover-promote", map[string]string{"primary": p0.name, "primaryHost": p0.ip})
	if !strings.Contains(out, "promoted at") {
		t.Errorf("switchover-promote said:\n%s", out)
	}
	t.Logf("switchover (demote + promote) took %s", time.Since(began).Round(time.Millisecond))
	p1.waitQuery(10*time.Second, "false", "SELECT pg_is_in_recovery()::text")
	p0.waitQuery(10*time.Second, "true", "SELECT pg_is_in_recovery()::text")
	if got := p1.action("switchover-promote", map[string]string{"primary": p0.name, "primaryHost": p0.ip}); !strings.Contains(got, "already the primary") {
		t.Errorf("switchover-promote issued again: %q", got)
	}
	p1.exec("INSERT INTO orders VALUES (501, 'on the new primary')")
	// The former primary follows the new timeline through its upstream (the
	// candidate) before the designation even moves.
	p0.waitQuery(30*time.Second, "on the new primary", "SELECT coalesce((SELECT item FROM orders WHERE id = 501), '')")

	// The workloadset-controller moves the designation; kubelet rewrites
	// the files. The running standby follows the new primary: no restart.
	for _, p := range pods {
		p.setTopology(p1.name, p1.ip, true)
	}
	p1.waitQuery(time.Minute, "orders-postgresql-0 streaming,orders-postgresql-2 streaming",
		"SELECT string_agg(application_name || ' ' || state, ',' ORDER BY application_name) FROM pg_stat_replication")
	p1.waitQuery(10*time.Second, "orders_postgresql_0 true,orders_postgresql_2 true",
		"SELECT string_agg(slot_name || ' ' || active::text, ',' ORDER BY slot_name) FROM pg_replication_slots")
	p1.exec("INSERT INTO orders VALUES (502, 'after the designation moved')")
	for _, p := range pods {
		p.waitQuery(30*time.Second, "502 502", "SELECT count(*) || ' ' || max(id) FROM orders")
	}
	if got := p2.startTime(); got != started2 {
		t.Errorf("%s restarted (postmaster start %s, was %s): it should have followed with a reload", p2.name, got, started2)
	}
	p2.mu.Lock()
	runs2 := len(p2.runs)
	p2.mu.Unlock()
	if n := runs2; n != 1 {
		t.Errorf("start.sh of %s ran %d times, want 1", p2.name, n)
	}

	// The rolling update replaces the former primary: a standby of the
	// designated primary, the switchover marker gone, no slot left over.
	p0.stop()
	again := p0.start()
	p0.waitQuery(time.Minute, "true", "SELECT pg_is_in_recovery()::text")
	p0.waitQuery(time.Minute, "0", "SELECT count(*)::text FROM pg_replication_slots")
	p1.waitQuery(time.Minute, "2", "SELECT count(*)::text FROM pg_stat_replication WHERE state = 'streaming' AND application_name LIKE 'orders-postgresql-%'")
	if out := again.out.String(); !strings.Contains(out, "the switchover is over") {
		t.Errorf("the replaced former primary did not clear the switchover:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(p0.volume, "plinth-switchover-to")); !os.IsNotExist(err) {
		t.Errorf("the switchover marker is still there: %v", err)
	}
	noPassword(t, p0, p1, p2)
}

// A candidate that did not receive the former primary's last records is
// never promoted: switchover-demote promotes the primary back and fails.
func TestPostgreSQLSwitchoverFailsBack(t *testing.T) {
	c := newCluster(t)
	pods := replicationSet(t, c, 2)
	p0, p1 := pods[0], pods[1]
	// The candidate stops replaying: it cannot have the shutdown checkpoint.
	p1.mustQuery("SELECT pg_wal_replay_pause()::text")
	out, err := p0.tryAction("switchover-demote", map[string]string{"candidate": p1.name, "candidateHost": p1.ip})
	if err == nil || !strings.Contains(out, "promoted back and stays the primary") {
		t.Fatalf("switchover-demote to a candidate that does not replay: %v\n%s", err, out)
	}
	p0.waitQuery(10*time.Second, "false", "SELECT pg_is_in_recovery()::text")
	p0.exec("INSERT INTO orders VALUES (2, 'after the failed switchover')")
	if _, err := os.Stat(filepath.Join(p0.volume, "plinth-switchover-to")); !os.IsNotExist(err) {
		t.Errorf("the switchover marker is still there: %v", err)
	}
	// The candidate, replaying again, follows the primary's new timeline.
	p1.mustQuery("SELECT pg_wal_replay_resume()::text")
	p1.waitQuery(time.Minute, "after the failed switchover", "SELECT coalesce((SELECT item FROM orders WHERE id = 2), '')")
	if got := p1.mustQuery("SELECT pg_is_in_recovery()::text"); got != "true" {
		t.Errorf("the candidate is in recovery: %s", got)
	}
	noPassword(t, p0, p1)
}

// On the primary, follow.sh drops the inactive slot of a pod of the
// WorkloadSet whose DNS name does not resolve (scaled in), and keeps active
// slots and slots it does not own.
func TestPostgreSQLFollowDropsSlotsOfGonePods(t *testing.T) {
	c := newCluster(t)
	pods := replicationSet(t, c, 2)
	p0, p1 := pods[0], pods[1]
	p0.mustQuery("SELECT pg_create_physical_replication_slot('orders_postgresql_7')::text")
	p0.mustQuery("SELECT pg_create_physical_replication_slot('someone_elses')::text")
	// The pods' stable names, as in the cluster (<pod>.<service>.<namespace>.svc);
	// orders-postgresql-7 is not a pod any more, so it does not resolve.
	p0.setTopology(p0.name, p0.name+".orders-postgresql.shop.invalid", true)
	p0.waitQuery(time.Minute, "orders_postgresql_1,someone_elses", "SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots")
	p1.waitQuery(10*time.Second, "streaming", "SELECT status FROM pg_stat_wal_receiver")
}
