// Package middlewaretest starts real middleware (the Debian redis-server and
// PostgreSQL 15 packages) for the tests of the in-pod runtime, on free
// loopback ports, in temporary folders removed by t.Cleanup. PostgreSQL
// refuses to run as root, so as root its processes run as the "postgres" OS
// user.
package middlewaretest

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// PostgresBin is where Debian installs PostgreSQL 15.
const PostgresBin = "/usr/lib/postgresql/15/bin"

// FreePort returns a free loopback TCP port.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Eventually polls f until it returns nil, failing the test with f's last
// error after timeout. Timeouts are generous: they bound a hang, they do not
// measure anything.
func Eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Need fails the test when a program is missing: make test installs them
// (hack/install-deps.sh), so a missing one is a broken setup, not a skip.
func Need(t testing.TB, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s is not installed: run hack/install-deps.sh test (make test does): %v", p, err)
		}
	}
}

// RedisArgs are the arguments of a redis-server on 127.0.0.1:port with its
// data in dir, without background saves.
func RedisArgs(port int, dir string, extra ...string) []string {
	return append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning"}, extra...)
}

// RedisClient is a client of the redis on port, closed by t.Cleanup.
func RedisClient(t testing.TB, port int) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1, DialTimeout: 2 * time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Ping says whether the redis on port answers PING.
func Ping(ctx context.Context, c *redis.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// StartProcess starts argv directly (not under procmgr) and kills it (and
// its process group) at cleanup.
func StartProcess(t testing.TB, cred *syscall.Credential, argv ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	StartCommand(t, cmd)
	return cmd
}

// StartCommand starts cmd in its own process group and kills the group at
// cleanup (before cleanups registered earlier run).
func StartCommand(t testing.TB, cmd *exec.Cmd) {
	t.Helper()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
}

// StartRedis starts a redis-server directly and waits until it answers.
func StartRedis(t testing.TB, extra ...string) (port int, c *redis.Client) {
	t.Helper()
	Need(t, "redis-server")
	port = FreePort(t)
	StartProcess(t, nil, append([]string{"redis-server"}, RedisArgs(port, t.TempDir(), extra...)...)...)
	c = RedisClient(t, port)
	Eventually(t, 30*time.Second, "redis answers PING", func() error { return Ping(context.Background(), c) })
	return port, c
}

// PostgresUser is the user PostgreSQL runs as: "postgres" when the tests run
// as root (initdb refuses root), otherwise the current user ("").
func PostgresUser(t testing.TB) (name string, cred *syscall.Credential) {
	t.Helper()
	if os.Geteuid() != 0 {
		return "", nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("running as root and there is no postgres user to run PostgreSQL as (the postgresql-15 package creates it; make test installs it): %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return "postgres", &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
}

// Postgres is a PostgreSQL data directory for tests.
type Postgres struct {
	Dir       string
	SocketDir string
	Port      int
	User      string
	Cred      *syscall.Credential
}

// tempDir makes a folder the postgres user owns, removed at cleanup.
func tempDir(t testing.TB, cred *syscall.Credential) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "plinth-pg-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// run runs a PostgreSQL tool as the postgres user.
func (p *Postgres) run(t testing.TB, tool string, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(PostgresBin, tool), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.Cred}
	cmd.Dir = "/"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
	}
}

func newPostgres(t testing.TB) *Postgres {
	t.Helper()
	Need(t, filepath.Join(PostgresBin, "postgres"))
	name, cred := PostgresUser(t)
	p := &Postgres{User: name, Cred: cred, Port: FreePort(t)}
	base := tempDir(t, cred)
	p.Dir, p.SocketDir = filepath.Join(base, "data"), base
	return p
}

// InitPostgres makes a new cluster (initdb) that trusts local connections
// and allows replication from loopback.
func InitPostgres(t testing.TB) *Postgres {
	t.Helper()
	p := newPostgres(t)
	p.run(t, "initdb", "-D", p.Dir, "-U", "postgres", "-A", "trust", "--no-sync")
	return p
}

// Args are the arguments of the postgres server on this data directory.
func (p *Postgres) Args() []string {
	return []string{"-D", p.Dir, "-p", strconv.Itoa(p.Port), "-k", p.SocketDir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "wal_level=replica",
		"-c", "max_wal_senders=5", "-c", "hot_standby=on"}
}

// Start runs the server directly (not under procmgr), stopped at cleanup.
func (p *Postgres) Start(t testing.TB) {
	t.Helper()
	StartProcess(t, p.Cred, append([]string{filepath.Join(PostgresBin, "postgres")}, p.Args()...)...)
	p.WaitReady(t)
}

// WaitReady waits until the server accepts queries.
func (p *Postgres) WaitReady(t testing.TB) {
	t.Helper()
	Eventually(t, 60*time.Second, "postgres accepts queries", func() error {
		_, err := p.Query(context.Background(), "select 'ok'")
		return err
	})
}

// Standby makes a standby of primary with pg_basebackup -R over loopback.
func (p *Postgres) Standby(t testing.TB) *Postgres {
	t.Helper()
	s := newPostgres(t)
	s.run(t, "pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(p.Port), "-U", "postgres",
		"-D", s.Dir, "-R", "-X", "stream", "--no-sync")
	return s
}

// Query runs sql and returns the first column of the first row as text.
func (p *Postgres) Query(ctx context.Context, sql string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", p.Port))
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var s string
	if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
		return "", err
	}
	return strings.TrimSpace(s), nil
}

// RawPing sends PING on a new connection to the redis on port and expects
// +PONG: no client library, no pool and no reconnect backoff, so a benchmark
// sees the first moment redis answers.
func RawPing(port int) error {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return err
	}
	if string(buf) != "+PONG\r\n" {
		return fmt.Errorf("redis answered %q", buf)
	}
	return nil
}

// Build builds the main package in pkgDir into a temporary folder and
// returns the binary's path and a function that removes it. For TestMain,
// so that tests run the binary as a container would.
func Build(pkgDir, name string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "plinth-bin-*")
	if err != nil {
		return "", nil, err
	}
	remove := func() { _ = os.RemoveAll(dir) }
	bin := filepath.Join(dir, name)
	if out, err := exec.Command("go", "build", "-o", bin, pkgDir).CombinedOutput(); err != nil {
		remove()
		return "", nil, fmt.Errorf("building %s: %v\n%s", pkgDir, err, out)
	}
	return bin, remove, nil
}

// CountSlots counts the slots in the slot fields of a CLUSTER NODES line
// (from the ninth field on: "0-5460", "5461", ...); a slot in migration
// ("[5461->-<id>]") or a malformed field is an error.
func CountSlots(fields []string) (int, error) {
	n := 0
	for _, r := range fields {
		lo, hi, found := strings.Cut(r, "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && found {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || b < a {
			return 0, fmt.Errorf("slot field %q: open (in migration) or malformed", r)
		}
		n += b - a + 1
	}
	return n, nil
}
