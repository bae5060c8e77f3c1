//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	crclient "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/plinth-io/plinth/apis/statusreport"
	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/naming"
)

// pgReplicationApp is a PostgreSQL 15 Application of plugin v1.1.0,
// topology replication, with replicas pods (one primary, replicas-1 standbys).
func pgReplicationApp(ns, name string, replicas int32) *plinthv1.Application {
	return &plinthv1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: plinthv1.ApplicationSpec{
			Plugin: "postgresql", PluginVersion: "v1.1.0", Version: "15", Topology: "replication",
			Components: []plinthv1.ApplicationComponent{{
				Name: "postgresql", Replicas: &replicas,
				Storage: &plinthv1.StorageSpec{Size: resource.MustParse("256Mi")},
			}},
			TerminationPolicy: plinthv1.TerminationWipeOut,
		},
	}
}

// pgRepl talks to one replicated PostgreSQL Application.
type pgRepl struct {
	t        *testing.T
	ns, app  string
	comp, ws string
	user     string
	password string
}

func newPGRepl(t *testing.T, ns, app string) *pgRepl {
	comp := naming.Component(app, "postgresql")
	secret := naming.CredentialsSecret(app)
	return &pgRepl{t: t, ns: ns, app: app, comp: comp, ws: naming.WorkloadSet(comp, -1),
		user: secretValue(t, ns, secret, "username"), password: secretValue(t, ns, secret, "password")}
}

// query runs sql on addr (host:port) and returns the first column of the
// first row as text.
func (r *pgRepl) query(addr, sql string, args ...any) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	host, port, _ := net.SplitHostPort(addr)
	c, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%s user=%s password=%s dbname=postgres sslmode=disable connect_timeout=5", host, port, r.user, r.password))
	if err != nil {
		return "", err
	}
	defer c.Close(context.Background())
	var out *string
	if err := c.QueryRow(ctx, sql, args...).Scan(&out); err != nil {
		return "", err
	}
	if out == nil {
		return "", nil
	}
	return *out, nil
}

func (r *pgRepl) exec(addr, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	host, port, _ := net.SplitHostPort(addr)
	c, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%s user=%s password=%s dbname=postgres sslmode=disable connect_timeout=5", host, port, r.user, r.password))
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, sql)
	return err
}

// rw is the read-write Service's address.
func (r *pgRepl) rw() string {
	return serviceAddr(r.t, r.ns, naming.RoleService(r.comp, "primary"), 5432)
}

// pods lists the Application's running pods by name.
func (r *pgRepl) pods() []corev1.Pod {
	r.t.Helper()
	list, err := client.CoreV1().Pods(r.ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + r.app})
	if err != nil {
		r.t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// write inserts a row through the read-write Service, retried while
// kube-proxy programs a new endpoint.
func (r *pgRepl) write(id int, item string) {
	r.t.Helper()
	eventually(r.t, time.Minute, func() error {
		if err := r.exec(r.rw(), "CREATE TABLE IF NOT EXISTS orders (id int primary key, item text)"); err != nil {
			return err
		}
		_, err := r.query(r.rw(), "INSERT INTO orders VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET item = excluded.item RETURNING ''", id, item)
		return err
	})
}

// checkTopology checks, on every pod, that the rows are there and that
// exactly one pod (the designated primary, whose report says primary and
// which the read-write Service reaches) is out of recovery.
func (r *pgRepl) checkTopology(wantPods int, rows map[int]string) {
	r.t.Helper()
	eventually(r.t, 3*time.Minute, func() error {
		pods := r.pods()
		if len(pods) != wantPods {
			return fmt.Errorf("%d pods, want %d", len(pods), wantPods)
		}
		ws := &plinthv1.WorkloadSet{}
		if err := api(r.t).Get(context.Background(), crclient.ObjectKey{Namespace: r.ns, Name: r.ws}, ws); err != nil {
			return err
		}
		var primaries []string
		for _, p := range pods {
			if p.Status.PodIP == "" {
				return fmt.Errorf("pod %s has no IP yet", p.Name)
			}
			addr := net.JoinHostPort(p.Status.PodIP, "5432")
			inRecovery, err := r.query(addr, "SELECT pg_is_in_recovery()::text")
			if err != nil {
				return fmt.Errorf("pod %s: %w", p.Name, err)
			}
			if inRecovery == "false" {
				primaries = append(primaries, p.Name)
			}
			for id, want := range rows {
				got, err := r.query(addr, "SELECT coalesce((SELECT item FROM orders WHERE id = $1), '<missing>')", id)
				if err != nil || got != want {
					return fmt.Errorf("pod %s (in recovery %s): row %d = %q (%v), want %q", p.Name, inRecovery, id, got, err, want)
				}
			}
			rep, err := statusreport.Parse([]byte(p.Annotations[plinthv1.AnnotationStatusReport]))
			if err != nil {
				return fmt.Errorf("pod %s: status report: %w", p.Name, err)
			}
			wantRole := "replica"
			if inRecovery == "false" {
				wantRole = "primary"
			}
			if rep.Role != wantRole || !rep.Healthy || rep.Details["lsn"] == "" ||
				(wantRole == "replica" && (rep.Details["replication"] != "streaming" || rep.Details["receive_lsn"] == "")) {
				return fmt.Errorf("pod %s (in recovery %s) reports %+v", p.Name, inRecovery, rep)
			}
			if p.Annotations[plinthv1.AnnotationPrimary] != ws.Status.Primary {
				return fmt.Errorf("pod %s: annotation %s = %q, status.primary %q", p.Name, plinthv1.AnnotationPrimary, p.Annotations[plinthv1.AnnotationPrimary], ws.Status.Primary)
			}
		}
		if len(primaries) != 1 || primaries[0] != ws.Status.Primary {
			return fmt.Errorf("pods out of recovery: %v, want exactly the designated primary %q", primaries, ws.Status.Primary)
		}
		// The read-write Service reaches the primary.
		var primaryIP string
		for _, p := range pods {
			if p.Name == primaries[0] {
				primaryIP = p.Status.PodIP
			}
		}
		served, err := r.query(r.rw(), "SELECT host(inet_server_addr())")
		if err != nil {
			return fmt.Errorf("through the read-write Service: %w", err)
		}
		if served != primaryIP {
			return fmt.Errorf("the read-write Service reached %s, the primary %s is %s", served, primaries[0], primaryIP)
		}
		// Each standby streams from the primary through its own slot.
		slots, err := r.query(r.rw(), "SELECT string_agg(slot_name || ':' || active::text, ',' ORDER BY slot_name) FROM pg_replication_slots")
		if err != nil {
			return err
		}
		for _, p := range pods {
			slot := strings.ReplaceAll(p.Name, "-", "_")
			if p.Name != primaries[0] && !strings.Contains(","+slots+",", ","+slot+":true,") {
				return fmt.Errorf("slots on the primary %q: no active slot of %s", slots, p.Name)
			}
		}
		return nil
	})
}

// PostgreSQL streaming replication: 1+2 reaches Running, rows written
// through the read-write Service reach every standby, and scaling to 1+4
// and back to 1+1 keeps every pod in sync.
func TestPostgreSQLReplication(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	app := pgReplicationApp(ns, "ledger", 3)
	if err := api(t).Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitPhase(t, ns, "ledger", plinthv1.ApplicationRunning, toRunning)
	t.Logf("postgresql replication 1+2: Running after %s", time.Since(start).Round(time.Second))

	r := newPGRepl(t, ns, "ledger")
	rows := map[int]string{}
	for i := 1; i <= 3; i++ {
		rows[i] = fmt.Sprintf("written-%d", i)
		r.write(i, rows[i])
	}
	r.checkTopology(3, rows)

	// The designated primary stays while scaling; the slots of removed
	// standbys are dropped by the primary's follow sidecar.
	primary := r.primary()
	start = time.Now()
	r.scale(5)
	rows[4] = "after-scale-out"
	r.write(4, rows[4])
	r.checkTopology(5, rows)
	r.checkSlots(5)
	t.Logf("postgresql replication 1+4: in sync after %s", time.Since(start).Round(time.Second))

	start = time.Now()
	r.scale(2)
	rows[5] = "after-scale-in"
	r.write(5, rows[5])
	r.checkTopology(2, rows)
	r.checkSlots(2)
	if got := r.primary(); got != primary {
		t.Errorf("the designated primary moved from %s to %s while scaling", primary, got)
	}
	t.Logf("postgresql replication 1+1: in sync, slots pruned after %s", time.Since(start).Round(time.Second))

	// Deleted pods come back on their volumes: the primary as primary, the
	// standby as a standby without a new clone.
	for i, ordinal := range []int32{0, 1} {
		name := naming.Pod(r.ws, ordinal)
		before := r.pod(name)
		if err := client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 3*time.Minute, func() error {
			if p := r.pod(name); p == nil || p.UID == before.UID {
				return fmt.Errorf("pod %s not recreated yet", name)
			}
			return nil
		})
		waitPhase(t, ns, "ledger", plinthv1.ApplicationRunning, toRunning)
		rows[6+i] = "after-deleting-" + name
		r.write(6+i, rows[6+i])
		r.checkTopology(2, rows)
		if logs := r.logs(name); strings.Contains(logs, "cloning") {
			t.Errorf("the recreated %s cloned again instead of using its volume:\n%s", name, logs)
		}
	}
	r.noPasswordInLogs()
}

// A primary whose volume is lost after initialisation never comes back
// empty: it refuses to start, and the standby keeps the data, read-only.
func TestPostgreSQLReplicationRefusesEmptyPrimary(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	if err := api(t).Create(ctx, pgReplicationApp(ns, "vault", 2)); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, ns, "vault", plinthv1.ApplicationRunning, toRunning)
	r := newPGRepl(t, ns, "vault")
	r.write(1, "kept")
	r.checkTopology(2, map[int]string{1: "kept"})

	// Lose the primary's volume: delete its PVC, then its pod.
	primary, standby := naming.Pod(r.ws, 0), naming.Pod(r.ws, 1)
	before := r.pod(primary)
	if err := client.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, naming.PVC("data", primary), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().Pods(ns).Delete(ctx, primary, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Minute, func() error {
		p := r.pod(primary)
		if p == nil || p.UID == before.UID {
			return fmt.Errorf("pod %s not recreated yet", primary)
		}
		if logs := r.logs(primary); !strings.Contains(logs, "refusing to start") {
			return fmt.Errorf("%s does not refuse yet:\n%s", primary, logs)
		}
		return nil
	})
	ws := &plinthv1.WorkloadSet{}
	if err := api(t).Get(ctx, crclient.ObjectKey{Namespace: ns, Name: r.ws}, ws); err != nil {
		t.Fatal(err)
	}
	if ws.Status.Primary != primary || !ws.Status.Initialized {
		t.Errorf("WorkloadSet status primary %q initialized %v, want %s and true", ws.Status.Primary, ws.Status.Initialized, primary)
	}
	// Nothing became writable; the standby still serves the row.
	sp := r.pod(standby)
	addr := net.JoinHostPort(sp.Status.PodIP, "5432")
	eventually(t, time.Minute, func() error {
		rec, err := r.query(addr, "SELECT pg_is_in_recovery()::text")
		if err != nil || rec != "true" {
			return fmt.Errorf("standby in recovery: %q %v", rec, err)
		}
		item, err := r.query(addr, "SELECT item FROM orders WHERE id = 1")
		if err != nil || item != "kept" {
			return fmt.Errorf("row on the standby: %q %v", item, err)
		}
		return nil
	})
	if p := r.pod(primary); p != nil && p.Status.PodIP != "" {
		if _, err := r.query(net.JoinHostPort(p.Status.PodIP, "5432"), "SELECT 'up'"); err == nil {
			t.Errorf("the primary with the empty volume answers queries")
		}
	}
}

// pod is the named pod, or nil.
func (r *pgRepl) pod(name string) *corev1.Pod {
	r.t.Helper()
	for _, p := range r.pods() {
		if p.Name == name {
			return &p
		}
	}
	return nil
}

// logs is what the postgresql container of a pod printed ("" when none).
func (r *pgRepl) logs(pod string) string {
	raw, err := client.CoreV1().Pods(r.ns).GetLogs(pod, &corev1.PodLogOptions{Container: "postgresql"}).DoRaw(context.Background())
	if err != nil {
		return ""
	}
	return string(raw)
}

// noPasswordInLogs checks that no container of the Application's pods
// printed the password (start.sh, pg_basebackup, postgres, the agents).
func (r *pgRepl) noPasswordInLogs() {
	r.t.Helper()
	for _, p := range r.pods() {
		for _, c := range p.Spec.Containers {
			raw, err := client.CoreV1().Pods(r.ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: c.Name}).DoRaw(context.Background())
			if err != nil {
				r.t.Errorf("logs of %s/%s: %v", p.Name, c.Name, err)
				continue
			}
			if strings.Contains(string(raw), r.password) {
				r.t.Errorf("the logs of %s/%s contain the password", p.Name, c.Name)
			}
			if c.Name == "postgresql" && p.Name != naming.Pod(r.ws, 0) && !strings.Contains(string(raw), "starting as a standby") {
				r.t.Errorf("%s/%s did not log how it started:\n%s", p.Name, c.Name, raw)
			}
		}
	}
}

// Killing the leaders of the component- and workloadset-controllers while a
// replicated PostgreSQL bootstraps (the first right after the Application is
// created, the second once the first pod exists): it converges with exactly
// one primary, the bootstrap designation (ordinal 0).
func TestPostgreSQLReplicationBootstrapSurvivesControllerRestarts(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	leader := func(c string) string {
		lease, err := client.CoordinationV1().Leases("plinth-system").Get(ctx, c+".plinth.io", metav1.GetOptions{})
		if err != nil || lease.Spec.HolderIdentity == nil {
			t.Fatalf("lease of %s: %v", c, err)
		}
		return strings.SplitN(*lease.Spec.HolderIdentity, "_", 2)[0]
	}
	kill := func(c, pod string) {
		zero := int64(0)
		t.Logf("killing the leader of %s: pod %s", c, pod)
		if err := client.CoreV1().Pods("plinth-system").Delete(ctx, pod, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatalf("deleting %s: %v", pod, err)
		}
	}
	componentLeader, workloadSetLeader := leader("component-controller"), leader("workloadset-controller")
	if err := api(t).Create(ctx, pgReplicationApp(ns, "boot", 3)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	kill("component-controller", componentLeader)
	r := &pgRepl{t: t, ns: ns, app: "boot"}
	eventually(t, 2*time.Minute, func() error {
		if len(r.pods()) == 0 {
			return fmt.Errorf("no pod yet")
		}
		return nil
	})
	t.Logf("pods while killing the workloadset-controller's leader: %d", len(r.pods()))
	kill("workloadset-controller", workloadSetLeader)
	waitPhase(t, ns, "boot", plinthv1.ApplicationRunning, toRunning)
	t.Logf("postgresql replication 1+2 with its controllers' leaders killed: Running after %s", time.Since(start).Round(time.Second))
	r = newPGRepl(t, ns, "boot")
	r.write(1, "after-takeover")
	r.checkTopology(3, map[int]string{1: "after-takeover"})
	ws := &plinthv1.WorkloadSet{}
	if err := api(t).Get(ctx, crclient.ObjectKey{Namespace: ns, Name: r.ws}, ws); err != nil {
		t.Fatal(err)
	}
	if want := naming.Pod(r.ws, 0); ws.Status.Primary != want || !ws.Status.Initialized {
		t.Errorf("WorkloadSet status primary %q initialized %v, want %s and true", ws.Status.Primary, ws.Status.Initialized, want)
	}
	waitControllersAvailable(t)
}

// primary is the WorkloadSet's designated primary.
func (r *pgRepl) primary() string {
	r.t.Helper()
	ws := &plinthv1.WorkloadSet{}
	if err := api(r.t).Get(context.Background(), crclient.ObjectKey{Namespace: r.ns, Name: r.ws}, ws); err != nil {
		r.t.Fatal(err)
	}
	return ws.Status.Primary
}

// scale changes the number of pods on the Application and waits until they
// are there and the Application is Running.
func (r *pgRepl) scale(replicas int) {
	r.t.Helper()
	patchApp(r.t, r.ns, r.app, func(a *plinthv1.Application) { a.Spec.Components[0].Replicas = ptr(int32(replicas)) })
	eventually(r.t, toRunning, func() error {
		if n := len(r.pods()); n != replicas {
			return fmt.Errorf("%d pods, want %d", n, replicas)
		}
		return nil
	})
	waitPhase(r.t, r.ns, r.app, plinthv1.ApplicationRunning, toRunning)
}

// checkSlots checks that the primary keeps exactly one slot per standby of
// a WorkloadSet of the given size: none of a removed pod lingers (the
// follow sidecar drops them after a minute).
func (r *pgRepl) checkSlots(replicas int) {
	r.t.Helper()
	primary := r.primary()
	var want []string
	for i := range replicas {
		if name := naming.Pod(r.ws, int32(i)); name != primary {
			want = append(want, strings.ReplaceAll(name, "-", "_"))
		}
	}
	sort.Strings(want)
	eventually(r.t, 3*time.Minute, func() error {
		got, err := r.query(r.rw(), "SELECT coalesce(string_agg(slot_name, ',' ORDER BY slot_name), '') FROM pg_replication_slots")
		if err != nil {
			return err
		}
		if got != strings.Join(want, ",") {
			return fmt.Errorf("slots on the primary %s: %q, want %q", primary, got, strings.Join(want, ","))
		}
		return nil
	})
}

// startWriteLoop inserts a new row into writeloop through addr every
// interval (the row's id is the loop key's number, see loopID),
// reconnecting after an error.
func (r *pgRepl) startWriteLoop(addr string, interval time.Duration) *writeLoop {
	host, port, _ := net.SplitHostPort(addr)
	dsn := fmt.Sprintf("host=%s port=%s user=%s password=%s dbname=postgres sslmode=disable connect_timeout=2", host, port, r.user, r.password)
	var conn *pgx.Conn
	insert := func(key string) error {
		id, err := loopID(key)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if conn == nil {
			if conn, err = pgx.Connect(ctx, dsn); err != nil {
				return err
			}
		}
		if _, err = conn.Exec(ctx, "INSERT INTO writeloop VALUES ($1)", id); err != nil {
			_ = conn.Close(context.Background())
			conn = nil
		}
		return err
	}
	return runWriteLoop(interval, insert, func() {
		if conn != nil {
			_ = conn.Close(context.Background())
		}
	})
}

// loopID is the number at the end of a write loop key.
func loopID(key string) (int, error) {
	return strconv.Atoi(key[strings.LastIndexByte(key, ':')+1:])
}

// loopIDs are the numbers of the write loop's acknowledged keys.
func loopIDs(t *testing.T, keys []string) []int {
	t.Helper()
	ids := make([]int, 0, len(keys))
	for _, k := range keys {
		id, err := loopID(k)
		if err != nil {
			t.Fatalf("write loop key %q: %v", k, err)
		}
		ids = append(ids, id)
	}
	return ids
}

// A parameter that needs a restart (max_connections) rolls the standbys
// first, one at a time, then switches over (switchover-demote on the
// primary, switchover-promote on the candidate) and replaces the former
// primary: a write loop through the read-write Service sees only the
// switchover's gap, no acknowledged row is lost, there is never a second
// primary, and the standby that was not replaced yet follows the new
// primary without a restart.
func TestPostgreSQLReplicationRollingUpdate(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	if err := api(t).Create(ctx, pgReplicationApp(ns, "roll", 3)); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, ns, "roll", plinthv1.ApplicationRunning, toRunning)
	r := newPGRepl(t, ns, "roll")
	r.write(1, "before-the-rollout")
	r.checkTopology(3, map[int]string{1: "before-the-rollout"})
	eventually(t, time.Minute, func() error { return r.exec(r.rw(), "CREATE TABLE IF NOT EXISTS writeloop (id int primary key)") })
	first := r.primary()

	// Never two primaries: every 500ms, no more than one pod out of recovery.
	stopTwo, twoDone := make(chan struct{}), make(chan struct{})
	var twoPrimaries []string
	go func() {
		defer close(twoDone)
		for {
			select {
			case <-stopTwo:
				return
			case <-time.After(500 * time.Millisecond):
			}
			var writable []string
			for _, p := range r.pods() {
				if p.Status.PodIP == "" {
					continue
				}
				if rec, err := r.query(net.JoinHostPort(p.Status.PodIP, "5432"), "SELECT pg_is_in_recovery()::text"); err == nil && rec == "false" {
					writable = append(writable, p.Name)
				}
			}
			if len(writable) > 1 {
				twoPrimaries = append(twoPrimaries, strings.Join(writable, "+"))
			}
		}
	}()
	w := watchRollout(t, ns, r.comp)
	loop := r.startWriteLoop(r.rw(), writeInterval)
	start := time.Now()
	patchApp(t, ns, "roll", func(a *plinthv1.Application) {
		a.Spec.Components[0].Parameters = map[string]string{"max_connections": "250"}
	})
	eventually(t, 10*time.Minute, w.replaced)
	waitPhase(t, ns, "roll", plinthv1.ApplicationRunning, 5*time.Minute)
	rolled := time.Since(start)
	time.Sleep(2 * time.Second)
	loop.finish()
	close(stopTwo)
	<-twoDone
	// Standbys first, one at a time with the others Ready, the former
	// primary last after another pod took the primary label, never two
	// labelled primary.
	order := w.checkRolloutOrder(t, map[string]string{r.ws: first})
	t.Logf("postgresql rolling update of 3 pods: %s; order %v; %s; longest time without a pod labelled primary %s",
		rolled.Round(time.Second), order, loop, w.noPrimary.Round(time.Millisecond))
	if len(order) != 3 || order[2].pod != first {
		t.Fatalf("replacement order %v: want both standbys, then the former primary %s", order, first)
	}
	if now := r.primary(); now == first || now != order[2].primaryThen {
		t.Errorf("designated primary after the rollout %q, want the switchover's candidate %q (not %s)", now, order[2].primaryThen, first)
	}
	for _, p := range r.pods() {
		if p.Annotations[plinthv1.AnnotationPrimary] != order[2].primaryThen {
			t.Errorf("pod %s: annotation %s = %q, want %s", p.Name, plinthv1.AnnotationPrimary, p.Annotations[plinthv1.AnnotationPrimary], order[2].primaryThen)
		}
	}
	if len(twoPrimaries) > 0 {
		t.Errorf("two pods out of recovery at once during the rollout: %v", twoPrimaries)
	}
	if loop.longest > maxWriteGap {
		t.Errorf("writes failed for %s in a row during the rollout; want a gap no longer than a switchover", loop.longest)
	}
	if len(loop.acked) == 0 {
		t.Fatalf("the write loop had no write acknowledged (last error %v)", loop.lastErr)
	}
	acked := loopIDs(t, loop.acked)
	r.write(2, "after-the-rollout")
	r.checkTopology(3, map[int]string{1: "before-the-rollout", 2: "after-the-rollout"})
	r.checkSlots(3)
	// Every acknowledged row is on every member, and every member runs with
	// the new parameter.
	for _, p := range r.pods() {
		addr := net.JoinHostPort(p.Status.PodIP, "5432")
		eventually(t, time.Minute, func() error {
			got, err := r.query(addr, "SELECT count(*)::text FROM writeloop WHERE id = ANY($1)", acked)
			if err != nil {
				return err
			}
			if got != fmt.Sprint(len(acked)) {
				return fmt.Errorf("pod %s has %s of the %d acknowledged rows", p.Name, got, len(acked))
			}
			return nil
		})
		if got, err := r.query(addr, "SELECT current_setting('max_connections')"); err != nil || got != "250" {
			t.Errorf("pod %s: max_connections %q (%v), want 250", p.Name, got, err)
		}
	}
	// The standby that was neither the candidate nor the former primary
	// followed the new primary without a restart: its postmaster started
	// before the former primary was replaced (after the switchover).
	for _, p := range r.pods() {
		if p.Name == first || p.Name == order[2].primaryThen {
			continue
		}
		started, err := r.query(net.JoinHostPort(p.Status.PodIP, "5432"), "SELECT to_char(pg_postmaster_start_time() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
		if err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339Nano, started)
		if err != nil {
			t.Fatal(err)
		}
		if !at.Before(order[2].at) {
			t.Errorf("standby %s restarted at %s, after the switchover (the former primary was replaced at %s): it should have followed with a reload", p.Name, at, order[2].at)
		}
		raw, err := client.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: "follow"}).DoRaw(ctx)
		if err != nil || !strings.Contains(string(raw), "following the designated primary "+order[2].primaryThen) {
			t.Errorf("the follow sidecar of %s did not follow %s (%v):\n%s", p.Name, order[2].primaryThen, err, raw)
		}
	}
	// The switchover is logged where it happened.
	if logs := r.logs(first); !strings.Contains(logs, "starting as a standby") {
		t.Errorf("the former primary %s did not log how it started:\n%s", first, logs)
	}
	r.noPasswordInLogs()
}
