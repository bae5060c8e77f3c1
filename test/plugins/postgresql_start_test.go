package plugins_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/plinth-io/plinth/internal/middlewaretest"
	"github.com/plinth-io/plinth/pluginregistry"
)

// The start script is tested as the pod runs it: rendered from the plugin by
// pluginregistry, run with /bin/sh, ending in the local cluster image's
// docker-entrypoint.sh (hack/local-cluster/postgres-entrypoint.sh) and the
// Debian PostgreSQL 15 binaries. Each "pod" listens on its own loopback
// address with the same port, as pods do on their own IPs; its topology
// folder stands in for the downward-API volume.

const (
	pgPluginDir = "../../plugins/postgresql/v1.1.0"
	pgPassword  = "not-in-any-log-7f3a"
)

// cluster is what the pods of one test share: the rendered files and port.
type cluster struct {
	t      *testing.T
	pv     *pluginregistry.PluginVersion
	ctx    pluginregistry.Context
	port   int
	conf   string // rendered config files (start.sh, postgresql.conf, pg_hba.conf)
	bin    string // docker-entrypoint.sh
	cred   *syscall.Credential
	pgUser string
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	middlewaretest.Need(t, filepath.Join(middlewaretest.PostgresBin, "postgres"), "setpriv")
	src, err := pluginregistry.FromFolder(pgPluginDir, pluginregistry.DefaultNamespace)
	if err != nil {
		t.Fatal(err)
	}
	pv, err := pluginregistry.Build(src.Plugin, src.Version, src.ConfigMaps)
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, pv: pv, port: middlewaretest.FreePort(t)}
	c.pgUser, c.cred = middlewaretest.PostgresUser(t)
	c.ctx = pluginregistry.Context{
		Plugin:      pluginregistry.PluginRef{Name: "postgresql", Version: "v1.1.0"},
		Application: pluginregistry.ObjectRef{Name: "orders", Namespace: "shop"},
		Component:   pluginregistry.ComponentRef{Name: "orders-postgresql", Def: "postgresql", Replicas: 2},
		Topology:    "replication",
		Version:     "15",
		Image:       "docker.io/library/postgres:15",
		Ports:       map[string]int32{"postgresql": int32(c.port)},
		Secrets:     pluginregistry.SecretsRef{Credentials: "orders-credentials", AgentTLS: "orders-postgresql-agent-tls"},
		Platform:    pluginregistry.PlatformRef{Image: "plinth", Namespace: "plinth-system", BinDir: "/plinth/bin"},
	}
	files, err := pluginregistry.RenderConfigFiles(pv, "postgresql", nil, c.ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.conf = c.dir("conf", 0o755)
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(c.conf, f.Name), []byte(f.Content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c.bin = c.dir("bin", 0o755)
	entrypoint, err := os.ReadFile("../../hack/local-cluster/postgres-entrypoint.sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.bin, "docker-entrypoint.sh"), entrypoint, 0o755); err != nil {
		t.Fatal(err)
	}
	return c
}

// dir makes a folder the postgres user may use, removed at cleanup.
func (c *cluster) dir(name string, mode os.FileMode) string {
	c.t.Helper()
	base, err := os.MkdirTemp("", "plinth-pgstart-"+name+"-*")
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = os.RemoveAll(base) })
	if c.cred != nil {
		if err := os.Chown(base, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := os.Chmod(base, mode); err != nil {
		c.t.Fatal(err)
	}
	return base
}

// pod is one member: a pod name, a loopback address, a data volume, a
// topology folder and, while it runs, the start script's process.
type pod struct {
	c        *cluster
	name, ip string
	volume   string // the data volume; PGDATA is a folder in it, as in the pod
	topology string
	sock     string

	mu   sync.Mutex
	run  *run
	runs []*run
	// supervised: start.sh is started again whenever it exits, as procmgr
	// does (restart policy Always), until stop.
	supervised bool
}

type run struct {
	cmd  *exec.Cmd
	out  syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (c *cluster) pod(name, ip string) *pod {
	p := &pod{c: c, name: name, ip: ip, volume: c.dir("data-"+name, 0o700), topology: c.dir("topology-"+name, 0o755), sock: c.dir("sock-"+name, 0o755)}
	c.t.Cleanup(func() {
		p.stop()
		if c.t.Failed() || os.Getenv("PLINTH_TEST_SHOW_OUTPUT") != "" {
			for i, r := range p.runs {
				c.t.Logf("output of %s, run %d:\n%s", p.name, i+1, r.out.String())
			}
		}
	})
	return p
}

func (p *pod) pgdata() string { return filepath.Join(p.volume, "pgdata") }

// setTopology writes the files kubelet writes from the pod's annotations.
func (p *pod) setTopology(primary, host string, initialized bool) {
	p.c.t.Helper()
	for name, v := range map[string]string{"primary": primary, "primary-host": host, "initialized": strconv.FormatBool(initialized)} {
		// Written beside and renamed, like kubelet's atomic writer.
		tmp := filepath.Join(p.topology, "."+name)
		if err := os.WriteFile(tmp, []byte(v), 0o644); err != nil {
			p.c.t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(p.topology, name)); err != nil {
			p.c.t.Fatal(err)
		}
	}
}

// start runs start.sh as procmgr would, with the container's environment.
func (p *pod) start() *run {
	p.c.t.Helper()
	r, err := p.startScript()
	if err != nil {
		p.c.t.Fatal(err)
	}
	return r
}

// supervise starts start.sh and starts it again a second after it exits,
// like procmgr, until stop.
func (p *pod) supervise() {
	p.c.t.Helper()
	r := p.start()
	p.mu.Lock()
	p.supervised = true
	p.mu.Unlock()
	go func() {
		for {
			<-r.done
			time.Sleep(time.Second)
			p.mu.Lock()
			again := p.supervised && p.run == r
			p.mu.Unlock()
			if !again {
				return
			}
			next, err := p.startScript()
			if err != nil {
				p.c.t.Errorf("%s: restarting start.sh: %v", p.name, err)
				return
			}
			r = next
		}
	}()
}

func (p *pod) startScript() (*run, error) {
	c := p.c
	args := []string{filepath.Join(c.conf, "start.sh"),
		"-c", "config_file=" + filepath.Join(c.conf, "postgresql.conf"),
		"-c", "hba_file=" + filepath.Join(c.conf, "pg_hba.conf"),
		"-c", "listen_addresses=" + p.ip,
		"-c", "unix_socket_directories=" + p.sock,
		"-c", "fsync=off", "-c", "shared_buffers=16MB"}
	cmd := exec.Command("/bin/sh", args...)
	cmd.Env = []string{
		"PATH=" + c.bin + ":" + middlewaretest.PostgresBin + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"PGDATA=" + p.pgdata(),
		"POD_NAME=" + p.name,
		"POSTGRES_PASSWORD=" + pgPassword,
		"PLINTH_TOPOLOGY_DIR=" + p.topology,
		"LANG=C.UTF-8",
	}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r := &run{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &r.out, &r.out
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { r.err = cmd.Wait(); close(r.done) }()
	p.run, p.runs = r, append(p.runs, r)
	return r, nil
}

// stop stops postgres as procmgr does (SIGINT: fast shutdown), then kills
// what is left of the process group.
func (p *pod) stop() {
	p.mu.Lock()
	r := p.run
	p.run, p.supervised = nil, false
	p.mu.Unlock()
	if r == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
	}
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	<-r.done
}

// query runs sql over TCP with the password, as a client in another pod.
func (p *pod) query(sql string, args ...any) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d user=postgres password=%s dbname=postgres sslmode=disable connect_timeout=3", p.ip, p.c.port, pgPassword))
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var s *string
	if err := conn.QueryRow(ctx, sql, args...).Scan(&s); err != nil {
		return "", err
	}
	if s == nil {
		return "", nil
	}
	return *s, nil
}

func (p *pod) mustQuery(sql string, args ...any) string {
	p.c.t.Helper()
	s, err := p.query(sql, args...)
	if err != nil {
		p.c.t.Fatalf("%s: %s: %v", p.name, sql, err)
	}
	return s
}

func (p *pod) exec(sql string) {
	p.c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d user=postgres password=%s dbname=postgres sslmode=disable", p.ip, p.c.port, pgPassword))
	if err != nil {
		p.c.t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		p.c.t.Fatalf("%s: %s: %v", p.name, sql, err)
	}
}

// waitQuery waits until sql answers want, failing early when the script
// has exited.
func (p *pod) waitQuery(timeout time.Duration, want, sql string, args ...any) {
	p.c.t.Helper()
	p.mu.Lock()
	r, supervised := p.run, p.supervised
	p.mu.Unlock()
	middlewaretest.Eventually(p.c.t, timeout, p.name+": "+sql, func() error {
		select {
		case <-r.done:
			if !supervised {
				p.c.t.Fatalf("%s: start.sh exited (%v):\n%s", p.name, r.err, r.out.String())
			}
		default:
		}
		got, err := p.query(sql, args...)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("got %q, want %q", got, want)
		}
		return nil
	})
}

// probe runs the plugin's status probe command in the "pod" and checks the
// plugin's health rules the way the status agent does.
func (p *pod) probe() (fields map[string]string, healthy []string) {
	p.c.t.Helper()
	sp, err := pluginregistry.RenderStatusProbe(p.c.pv, "postgresql", &p.c.ctx)
	if err != nil {
		p.c.t.Fatal(err)
	}
	argv := slices.Clone(sp.Command)
	i := slices.Index(argv, "-h")
	if i < 0 || i+1 >= len(argv) {
		p.c.t.Fatalf("the probe %v connects without -h", argv)
	}
	argv[i+1] = p.sock // the pod's /var/run/postgresql
	cmd := exec.Command(filepath.Join(middlewaretest.PostgresBin, argv[0]), argv[1:]...)
	out, err := cmd.Output()
	if err != nil {
		p.c.t.Fatalf("%s: probe %v: %v", p.name, argv, err)
	}
	var raw map[string]any
	if err := json.Unmarshal(out, &raw); err != nil {
		p.c.t.Fatalf("%s: probe output %q: %v", p.name, out, err)
	}
	fields = map[string]string{}
	for k, v := range raw {
		fields[k] = fmt.Sprint(v)
	}
	for _, r := range sp.Healthy {
		v, ok := fields[r.Field]
		switch {
		case !ok && r.Optional:
		case !ok:
			healthy = append(healthy, r.Field+" is missing")
		case !slices.Contains(r.Values, v):
			healthy = append(healthy, fmt.Sprintf("%s is %q, want %v", r.Field, v, r.Values))
		}
	}
	return fields, healthy
}

// action runs a plugin action's argv in the "pod" as the ops agent would
// (its parameters filled in; the socket folder is the pod's).
func (p *pod) action(name string, args map[string]string) string {
	p.c.t.Helper()
	out, err := p.tryAction(name, args)
	if err != nil {
		p.c.t.Fatalf("%s: action %s: %v\n%s", p.name, name, err, out)
	}
	return out
}

// tryAction is action, returning the error of a failed run with its output.
func (p *pod) tryAction(name string, args map[string]string) (string, error) {
	p.c.t.Helper()
	a := p.c.pv.Action(name)
	if a == nil {
		p.c.t.Fatalf("the plugin has no action %s", name)
	}
	argv, err := pluginregistry.AgentArgv(a, p.c.ctx)
	if err != nil {
		p.c.t.Fatal(err)
	}
	for i := range argv {
		for k, v := range args {
			argv[i] = strings.ReplaceAll(argv[i], "{{ index . "+strconv.Quote(k)+" }}", v)
		}
		argv[i] = strings.ReplaceAll(argv[i], "/var/run/postgresql", p.sock)
		argv[i] = strings.ReplaceAll(argv[i], "/plinth/topology", p.topology)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	// The ops agent's container environment.
	cmd.Env = append(os.Environ(), "PATH="+middlewaretest.PostgresBin+":"+os.Getenv("PATH"), "POD_NAME="+p.name, "PGPASSWORD="+pgPassword, "PGDATA="+p.pgdata())
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// exitOf waits for the script to exit on its own.
func (r *run) exitOf(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(timeout):
		t.Fatalf("start.sh still runs after %s:\n%s", timeout, r.out.String())
		return nil
	}
}

func (r *run) waitLog(t *testing.T, timeout time.Duration, want string) {
	t.Helper()
	middlewaretest.Eventually(t, timeout, "start.sh says "+want, func() error {
		if !strings.Contains(r.out.String(), want) {
			return errors.New("not yet")
		}
		return nil
	})
}

func noPassword(t *testing.T, pods ...*pod) {
	t.Helper()
	for _, p := range pods {
		for i, r := range p.runs {
			if strings.Contains(r.out.String(), pgPassword) {
				t.Errorf("the output of %s, run %d, contains the password", p.name, i+1)
			}
		}
	}
}

// A primary initialises, a standby waits for it, clones it through its own
// slot and streams; a restarted standby keeps its data; after a failover
// the former primary rewinds and follows the new one.
func TestPostgreSQLStartScriptReplication(t *testing.T) {
	c := newCluster(t)
	p0, p1 := c.pod("orders-postgresql-0", "127.0.0.2"), c.pod("orders-postgresql-1", "127.0.0.3")
	for _, p := range []*pod{p0, p1} {
		p.setTopology(p0.name, p0.ip, false)
	}

	// The standby starts first: it waits for the designated primary.
	standby := p1.start()
	standby.waitLog(t, 30*time.Second, "waiting for the primary orders-postgresql-0")

	p0.start()
	p0.waitQuery(2*time.Minute, "false", "SELECT pg_is_in_recovery()::text")
	for setting, want := range map[string]string{"wal_level": "replica", "hot_standby": "on", "max_wal_senders": "20",
		"max_replication_slots": "20", "max_slot_wal_keep_size": "2GB", "wal_log_hints": "on"} {
		if got := p0.mustQuery("SELECT current_setting($1)", setting); got != want {
			t.Errorf("primary: %s = %q, want %q", setting, got, want)
		}
	}
	p0.mustQuery("SELECT ''")
	p0.exec("CREATE TABLE orders (id int primary key, item text)")
	p0.mustQuery("INSERT INTO orders VALUES (1, 'before the clone') RETURNING ''")
	for _, p := range []*pod{p0, p1} {
		p.setTopology(p0.name, p0.ip, true) // the controller saw the primary report
	}

	// The standby clones through its slot (named after its pod) and streams.
	p1.waitQuery(2*time.Minute, "true", "SELECT pg_is_in_recovery()::text")
	p1.waitQuery(30*time.Second, "before the clone", "SELECT item FROM orders WHERE id = 1")
	p0.waitQuery(30*time.Second, "orders_postgresql_1 true", "SELECT slot_name || ' ' || active::text FROM pg_replication_slots")
	p0.waitQuery(30*time.Second, "orders-postgresql-1 streaming", "SELECT application_name || ' ' || state FROM pg_stat_replication")
	p0.mustQuery("INSERT INTO orders VALUES (2, 'streamed') RETURNING ''")
	p1.waitQuery(30*time.Second, "streamed", "SELECT coalesce((SELECT item FROM orders WHERE id = 2), '')")
	if _, err := p1.query("INSERT INTO orders VALUES (3, 'no')"); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("a write on the standby: %v, want a read-only error", err)
	}

	// The status probe: the primary reports its streaming standby, the
	// standby reports replica, streaming and its LSNs; both are healthy.
	f, bad := p0.probe()
	if f["in_recovery"] != "false" || f["standbys"] != "1" || f["lsn"] == "" || len(bad) > 0 {
		t.Errorf("primary probe: %v, health problems %v", f, bad)
	}
	middlewaretest.Eventually(t, 30*time.Second, "standby probe", func() error {
		f, bad := p1.probe()
		if f["in_recovery"] != "true" || f["replication"] != "streaming" || f["lsn"] == "" || f["receive_lsn"] == "" || f["upstream"] != p0.ip || len(bad) > 0 {
			return fmt.Errorf("standby probe: %v, health problems %v", f, bad)
		}
		return nil
	})

	// prune-slots drops the inactive slots of removed standbys only.
	p0.mustQuery("SELECT pg_create_physical_replication_slot('orders_postgresql_3')::text")
	p0.mustQuery("SELECT pg_create_physical_replication_slot('someone_elses')::text")
	if got := p0.action("prune-slots", map[string]string{"replicas": "2"}); got != "1" {
		t.Errorf("prune-slots replicas=2 dropped %q slots, want 1", got)
	}
	if got := p0.action("prune-slots", map[string]string{"replicas": "1"}); got != "0" {
		t.Errorf("prune-slots replicas=1 dropped %q slots, want 0 (orders_postgresql_1 is active)", got)
	}
	if got := p0.mustQuery("SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots"); got != "orders_postgresql_1,someone_elses" {
		t.Errorf("slots after pruning: %q", got)
	}

	// A restarted standby keeps its data: no second clone.
	p1.stop()
	again := p1.start()
	p1.waitQuery(time.Minute, "true", "SELECT pg_is_in_recovery()::text")
	p0.mustQuery("INSERT INTO orders VALUES (3, 'after the restart') RETURNING ''")
	p1.waitQuery(30*time.Second, "after the restart", "SELECT coalesce((SELECT item FROM orders WHERE id = 3), '')")
	if strings.Contains(again.out.String(), "cloning") || !strings.Contains(again.out.String(), "starting as a standby") {
		t.Errorf("the restarted standby did not simply start as a standby:\n%s", again.out.String())
	}

	// Failover: the primary stops, the standby is promoted (the promote
	// action's SQL), the designation moves. The former primary restarts as
	// a standby of the new one, after pg_rewind: never a second primary.
	p0.stop()
	if got := p1.mustQuery("SELECT pg_promote(true, 60)::text"); got != "true" {
		t.Fatalf("pg_promote = %q", got)
	}
	for _, p := range []*pod{p0, p1} {
		p.setTopology(p1.name, p1.ip, true)
	}
	p1.mustQuery("INSERT INTO orders VALUES (4, 'on the new primary') RETURNING ''")
	// The Failover template's rejoin action (before procmgr restarts a
	// standby) waits for exactly this: another pod designated and writable.
	if got := p0.action("rejoin", map[string]string{"wait_seconds": "30"}); got != p1.name {
		t.Errorf("rejoin on the former primary answered %q, want %s", got, p1.name)
	}
	if out, err := p1.tryAction("rejoin", map[string]string{"wait_seconds": "2"}); err == nil || !strings.Contains(out, "this pod") {
		t.Errorf("rejoin on the new primary itself: %v %q, want a failure that says why", err, out)
	}
	rejoin := p0.start()
	p0.waitQuery(2*time.Minute, "true", "SELECT pg_is_in_recovery()::text")
	p0.waitQuery(30*time.Second, "on the new primary", "SELECT coalesce((SELECT item FROM orders WHERE id = 4), '')")
	p1.waitQuery(30*time.Second, "orders-postgresql-0 streaming", "SELECT application_name || ' ' || state FROM pg_stat_replication")
	if !strings.Contains(rejoin.out.String(), "pg_rewind against "+p1.ip) {
		t.Errorf("the former primary did not rewind:\n%s", rejoin.out.String())
	}

	// Designated again while its data is a standby's: it stays a standby
	// (no automatic promotion, which could make a second primary).
	p0.stop()
	p0.setTopology(p0.name, p0.ip, true)
	orphan := p0.start()
	p0.waitQuery(time.Minute, "true", "SELECT pg_is_in_recovery()::text")
	if !strings.Contains(orphan.out.String(), "standby without upstream") {
		t.Errorf("the designated standby did not say why it stays a standby:\n%s", orphan.out.String())
	}
	noPassword(t, p0, p1)
}

// A designated primary whose volume came back empty after the WorkloadSet
// was initialized refuses to start, with a message, and leaves the volume
// empty.
func TestPostgreSQLStartScriptRefusesEmptyInitializedPrimary(t *testing.T) {
	c := newCluster(t)
	p0 := c.pod("orders-postgresql-0", "127.0.0.2")
	p0.setTopology(p0.name, p0.ip, true)
	r := p0.start()
	err := r.exitOf(t, 30*time.Second)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("start.sh ended with %v, want a non-zero exit:\n%s", err, r.out.String())
	}
	if out := r.out.String(); !strings.Contains(out, "EMPTY data directory") || !strings.Contains(out, "refusing to start") {
		t.Errorf("start.sh did not say why it refused:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(p0.pgdata(), "PG_VERSION")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the data directory was initialised: %v", err)
	}
	noPassword(t, p0)
}

// Without a designation (no annotation yet) nothing starts: the script
// waits and says so.
func TestPostgreSQLStartScriptWaitsForDesignation(t *testing.T) {
	c := newCluster(t)
	p0 := c.pod("orders-postgresql-0", "127.0.0.2")
	p0.setTopology("", "", false)
	r := p0.start()
	r.waitLog(t, 30*time.Second, "no designated primary")
	p0.setTopology(p0.name, p0.ip, false)
	p0.waitQuery(2*time.Minute, "false", "SELECT pg_is_in_recovery()::text")
}
