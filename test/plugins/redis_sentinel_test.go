package plugins_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	mwt "github.com/plinth-io/plinth/internal/middlewaretest"
	"github.com/plinth-io/plinth/pluginregistry"
)

const sentinelName = "sm"

// sentinelSet is a primary, two replicas and one sentinel on 127.0.0.1, the
// servers configured as the plugin's sentinel topology does.
type sentinelSet struct {
	ports    []int // ports[0] is the first primary
	procs    []*exec.Cmd
	clients  []*redis.Client
	sentinel *redis.SentinelClient
	sport    int
}

func startSentinelSet(t *testing.T) *sentinelSet {
	t.Helper()
	mwt.Need(t, "redis-server", "redis-cli", "timeout", "env", "paste", "awk", "sed")
	s := &sentinelSet{}
	for i := range 3 {
		port := mwt.FreePort(t)
		extra := []string{"--requirepass", password, "--masterauth", password}
		if i > 0 {
			extra = append(extra, "--replicaof", "127.0.0.1", strconv.Itoa(s.ports[0]))
		}
		proc := mwt.StartProcess(t, nil, append([]string{"redis-server"}, mwt.RedisArgs(port, t.TempDir(), extra...)...)...)
		c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), Password: password, MaxRetries: -1,
			DialTimeout: 2 * time.Second, ReadTimeout: 10 * time.Second})
		t.Cleanup(func() { _ = c.Close() })
		mwt.Eventually(t, 30*time.Second, "redis answers PING", func() error { return mwt.Ping(context.Background(), c) })
		s.ports, s.procs, s.clients = append(s.ports, port), append(s.procs, proc), append(s.clients, c)
	}
	s.sport = mwt.FreePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %s 127.0.0.1 %d 1\nsentinel auth-pass %s %s\nsentinel down-after-milliseconds %s 5000\n",
		s.sport, dir, sentinelName, s.ports[0], sentinelName, password, sentinelName), 0o600); err != nil {
		t.Fatal(err)
	}
	mwt.StartProcess(t, nil, "redis-server", conf, "--sentinel")
	s.sentinel = redis.NewSentinelClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", s.sport), MaxRetries: -1, DialTimeout: 2 * time.Second})
	t.Cleanup(func() { _ = s.sentinel.Close() })
	mwt.Eventually(t, 30*time.Second, "the sentinel sees both replicas in sync", func() error {
		m, err := s.sentinel.Master(context.Background(), sentinelName).Result()
		if err != nil {
			return err
		}
		if m["num-slaves"] != "2" {
			return fmt.Errorf("sentinel sees %s replicas", m["num-slaves"])
		}
		for _, c := range s.clients[1:] {
			info, err := c.Info(context.Background(), "replication").Result()
			if err != nil || !strings.Contains(info, "master_link_status:up") {
				return fmt.Errorf("replica not in sync: %v", err)
			}
		}
		return nil
	})
	return s
}

// masterPort is the port the sentinel names as the primary's.
func (s *sentinelSet) masterPort(t *testing.T) int {
	t.Helper()
	addr, err := s.sentinel.GetMasterAddrByName(context.Background(), sentinelName).Result()
	if err != nil || len(addr) != 2 {
		t.Fatalf("SENTINEL get-master-addr-by-name: %v %v", addr, err)
	}
	p, _ := strconv.Atoi(addr[1])
	return p
}

// sentinelFailoverArgv is the plugin's sentinel-failover action rendered for
// the primary on port, as the ops agent runs it, with the sentinel's
// address put in for the Service's.
func sentinelFailoverArgv(t *testing.T, port, sentinelPort int) []string {
	t.Helper()
	pv := redisPlugin(t)
	ctx := pluginregistry.Context{Ports: map[string]int32{"redis": int32(port), "bus": 16379}}
	ctx.Application.Name = sentinelName
	argv, err := pluginregistry.RenderAction(pv.Action("sentinel-failover"), nil, ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := len(argv)
	if argv[n-4] != strconv.Itoa(port) || argv[n-3] != sentinelName+"-sentinel" || argv[n-2] != "26379" || argv[n-1] != sentinelName {
		t.Fatalf("sentinel-failover renders %q: want the redis port, the sentinel Service and port and the name last", argv[n-4:])
	}
	argv[n-3], argv[n-2] = "127.0.0.1", strconv.Itoa(sentinelPort)
	return argv
}

// The sentinel topology's switchover action, run on the primary while a
// client writes to it: a replica is promoted, the old primary replicates
// from it as soon as the action returns (Sentinel alone would leave it a
// writable primary for 8 s or more), and every write the old primary
// acknowledged is on the new one.
func TestRedisSentinelFailoverAction(t *testing.T) {
	s := startSentinelSet(t)
	old := s.clients[0]
	ctx := context.Background()

	var (
		mu    sync.Mutex
		acked []string
		stop  = make(chan struct{})
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			k := "k" + strconv.Itoa(i)
			if old.Set(ctx, k, "x", 0).Err() == nil {
				mu.Lock()
				acked = append(acked, k)
				mu.Unlock()
			}
		}
	}()
	// The client is writing (the check below wants at least 10 writes
	// acknowledged) before the switchover starts, however slow the machine.
	mwt.Eventually(t, 60*time.Second, "the client to have 10 writes acknowledged", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(acked) < 10 {
			return fmt.Errorf("%d acknowledged", len(acked))
		}
		return nil
	})

	argv := sentinelFailoverArgv(t, s.ports[0], s.sport)
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(actx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+password)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("sentinel-failover: %v: %s", err, out)
	}
	// The old primary follows the new one now, not when the sentinel
	// would have reconfigured it.
	info, err := old.Info(ctx, "replication").Result()
	if err != nil || !strings.Contains(info, "role:slave") {
		t.Fatalf("right after the action the old primary is not a replica: %v\n%s", err, info)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	<-done
	t.Logf("sentinel-failover took %s: %s; %d writes acknowledged", took.Round(time.Millisecond), strings.TrimSpace(string(out)), len(acked))

	newPort := s.masterPort(t)
	if newPort == s.ports[0] {
		t.Fatalf("the sentinel still names the old primary")
	}
	if !strings.Contains(info, "master_port:"+strconv.Itoa(newPort)) {
		t.Errorf("the old primary replicates from another server than the sentinel's primary %d:\n%s", newPort, info)
	}
	var primary *redis.Client
	for i, p := range s.ports {
		if p == newPort {
			primary = s.clients[i]
		}
	}
	if role, err := primary.Do(ctx, "ROLE").Slice(); err != nil || role[0] != "master" {
		t.Fatalf("the new primary's ROLE: %v %v", role, err)
	}
	if len(acked) < 10 {
		t.Fatalf("only %d writes acknowledged: the client did not write during the switchover", len(acked))
	}
	for _, k := range acked {
		if n, err := primary.Exists(ctx, k).Result(); err != nil || n != 1 {
			t.Fatalf("write %s acknowledged by the old primary is not on the new one (%d %v)", k, n, err)
		}
	}
	// The writes paused during the switchover were refused, not lost: the
	// old primary answers READONLY now.
	if err := old.Set(ctx, "after", "x", 0).Err(); err == nil || !strings.Contains(err.Error(), "READONLY") {
		t.Errorf("SET on the old primary after the switchover: %v, want READONLY", err)
	}
}

// With every replica gone the action fails and leaves the primary writable
// (the pause is released) and in place.
func TestRedisSentinelFailoverActionNoReplica(t *testing.T) {
	s := startSentinelSet(t)
	ctx := context.Background()
	for _, p := range s.procs[1:] {
		if err := p.Process.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	mwt.Eventually(t, 10*time.Second, "the primary has no replica", func() error {
		info, err := s.clients[0].Info(ctx, "replication").Result()
		if err != nil || !strings.Contains(info, "connected_slaves:0") {
			return fmt.Errorf("replicas still connected: %v", err)
		}
		return nil
	})
	argv := sentinelFailoverArgv(t, s.ports[0], s.sport)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+password)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("sentinel-failover succeeded without a replica: %s", out)
	}
	if !strings.Contains(string(out), "did not catch up") {
		t.Errorf("sentinel-failover output %q, want the reason", out)
	}
	if err := s.clients[0].Set(ctx, "still-writable", "x", 0).Err(); err != nil {
		t.Errorf("the primary refuses writes after a failed switchover: %v", err)
	}
	if p := s.masterPort(t); p != s.ports[0] {
		t.Errorf("the sentinel moved the primary to %d", p)
	}
}
