//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	crclient "sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/naming"
)

// Rolling updates of the replicated Redis topologies (docs/replication.md
// §4): a parameter that needs a restart ("databases" is not dynamic in
// plugins/redis/v1.1.0/params.yaml) replaces the replicas first, one at a
// time, then moves the writable role with the plugin's switchover action and
// replaces the old primary; a write loop running throughout sees only a short
// gap and loses no acknowledged write.

const (
	writeInterval = 50 * time.Millisecond
	// maxWriteGap bounds the longest run of failed writes: a switchover
	// plus the controllers' reaction, never a pod restart.
	maxWriteGap = 15 * time.Second
	// restartParam is a parameter of the redis component that is not
	// dynamic: changing it restarts every pod.
	restartParam, restartValue = "databases", "32"
)

// writeLoop writes a new key every interval until stopped, and records which
// writes were acknowledged, the longest run of failures and the longest time
// between two acknowledged writes.
type writeLoop struct {
	stop    chan struct{}
	done    chan struct{}
	acked   []string
	failed  int
	longest time.Duration
	ackGap  time.Duration
	lastErr error
	// errs counts the failed writes by error (the first few kinds).
	errs map[string]int
}

// runWriteLoop calls set with a new key every interval; cleanup runs once
// the loop stops.
func runWriteLoop(interval time.Duration, set func(key string) error, cleanup func()) *writeLoop {
	w := &writeLoop{stop: make(chan struct{}), done: make(chan struct{}), errs: map[string]int{}}
	go func() {
		defer close(w.done)
		defer cleanup()
		var failingSince, lastAck time.Time
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			case <-time.After(interval):
			}
			key := fmt.Sprintf("plinth:loop:%d", i)
			err := set(key)
			now := time.Now()
			if err != nil {
				w.failed++
				w.lastErr = err
				w.countError(err)
				if failingSince.IsZero() {
					failingSince = now
				}
				continue
			}
			if !failingSince.IsZero() {
				w.longest = max(w.longest, now.Sub(failingSince))
				failingSince = time.Time{}
			}
			if !lastAck.IsZero() {
				w.ackGap = max(w.ackGap, now.Sub(lastAck))
			}
			lastAck = now
			w.acked = append(w.acked, key)
		}
	}()
	return w
}

// startWriteLoop writes through addr (a Service) on one connection, opening
// a new one after any error: a client that follows the primary Service.
func startWriteLoop(addr, password string, interval time.Duration) *writeLoop {
	var conn *redis.Client
	set := func(key string) error {
		if conn == nil {
			opts := redisOptions(addr, password)
			opts.PoolSize = 1
			conn = redis.NewClient(opts)
		}
		got, err := conn.Set(context.Background(), key, "x", 0).Result()
		if err == nil && got != "OK" {
			err = fmt.Errorf("SET = %q", got)
		}
		if err != nil {
			conn.Close()
			conn = nil
		}
		return err
	}
	return runWriteLoop(interval, set, func() {
		if conn != nil {
			conn.Close()
		}
	})
}

// maxErrorKinds bounds the distinct errors a write loop reports.
const maxErrorKinds = 8

func (w *writeLoop) countError(err error) {
	msg := err.Error()
	if _, ok := w.errs[msg]; !ok && len(w.errs) >= maxErrorKinds {
		msg = "other errors"
	}
	w.errs[msg]++
}

func (w *writeLoop) finish() {
	close(w.stop)
	<-w.done
}

func (w *writeLoop) String() string {
	return fmt.Sprintf("%d writes acknowledged, %d failed %v; longest run of failures %s (last error %v); longest time between two acknowledged writes %s",
		len(w.acked), w.failed, w.errs, w.longest.Round(time.Millisecond), w.lastErr, w.ackGap.Round(time.Millisecond))
}

// keysPresent checks that every key exists on the server at addr.
func keysPresent(addr, password string, keys []string) error {
	return onRedis(addr, password, func(ctx context.Context, r *redis.Client) error {
		const batch = 500
		for i := 0; i < len(keys); i += batch {
			part := keys[i:min(i+batch, len(keys))]
			got, err := r.Exists(ctx, part...).Result()
			if err != nil {
				return err
			}
			if got == int64(len(part)) {
				continue
			}
			for _, k := range part {
				if got, err := r.Exists(ctx, k).Result(); err != nil || got != 1 {
					return fmt.Errorf("acknowledged write %s missing (%d %v)", k, got, err)
				}
			}
		}
		return nil
	})
}

// replacement is one pod of the rollout being replaced.
type replacement struct {
	pod, workloadSet string
	// primaryThen is the pod of the same WorkloadSet labelled primary at
	// that moment.
	primaryThen string
	// othersReady: every other pod of the WorkloadSet was there and Ready.
	othersReady bool
	// at is when the replacement was seen.
	at time.Time
}

func (r replacement) String() string {
	return fmt.Sprintf("%s (primary then %q, others ready %v)", r.pod, r.primaryThen, r.othersReady)
}

// rolloutWatch follows a component's pods through a rollout with a watch (so
// it sees every state the API server went through, not samples): the order
// in which the pods existing at the start are replaced, and how many pods of
// each WorkloadSet carry the primary role label.
type rolloutWatch struct {
	ns, selector string
	before       map[string]types.UID
	perWS        map[string]int // pods of each WorkloadSet at the start
	stop, done   chan struct{}

	mu      sync.Mutex
	pods    map[string]*corev1.Pod
	order   []replacement
	seen    map[string]bool
	doubles []string // states with more than one pod of a WorkloadSet labelled primary
	// noPrimarySince: when a WorkloadSet lost its last primary label.
	noPrimarySince map[string]time.Time
	noPrimary      time.Duration // the longest time without one
}

func watchRollout(t *testing.T, ns, component string) *rolloutWatch {
	t.Helper()
	w := &rolloutWatch{
		ns: ns, selector: plinthv1.LabelComponent + "=" + component,
		before: map[string]types.UID{}, perWS: map[string]int{},
		stop: make(chan struct{}), done: make(chan struct{}),
		seen: map[string]bool{}, noPrimarySince: map[string]time.Time{},
	}
	pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: w.selector})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		w.before[p.Name] = p.UID
		w.perWS[p.Labels[plinthv1.LabelWorkloadSet]]++
	}
	go w.run()
	t.Cleanup(w.finish)
	return w
}

func (w *rolloutWatch) run() {
	defer close(w.done)
	ctx := context.Background()
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		list, err := client.CoreV1().Pods(w.ns).List(ctx, metav1.ListOptions{LabelSelector: w.selector})
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		w.mu.Lock()
		w.pods = map[string]*corev1.Pod{}
		for i := range list.Items {
			w.observe(watch.Added, &list.Items[i])
		}
		w.mu.Unlock()
		wi, err := client.CoreV1().Pods(w.ns).Watch(ctx, metav1.ListOptions{LabelSelector: w.selector, ResourceVersion: list.ResourceVersion})
		if err != nil {
			continue
		}
		w.follow(wi)
		wi.Stop()
	}
}

// follow applies watch events until the watch ends or the watcher stops.
func (w *rolloutWatch) follow(wi watch.Interface) {
	for {
		select {
		case <-w.stop:
			return
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return
			}
			if p, ok := ev.Object.(*corev1.Pod); ok {
				w.mu.Lock()
				w.observe(ev.Type, p)
				w.mu.Unlock()
			}
		}
	}
}

// observe applies one pod event to the state and checks it (w.mu held).
func (w *rolloutWatch) observe(ev watch.EventType, p *corev1.Pod) {
	if ev == watch.Deleted {
		delete(w.pods, p.Name)
	} else {
		w.pods[p.Name] = p
	}
	ws := p.Labels[plinthv1.LabelWorkloadSet]
	var labelled []string
	others, othersReady := 0, true
	for _, q := range w.pods {
		if q.Labels[plinthv1.LabelWorkloadSet] != ws {
			continue
		}
		if q.Labels[plinthv1.LabelRole] == "primary" {
			labelled = append(labelled, q.Name)
		}
		if q.Name != p.Name {
			others++
			othersReady = othersReady && podIsReady(q)
		}
	}
	uid, existed := w.before[p.Name]
	if existed && !w.seen[p.Name] && (ev == watch.Deleted || p.DeletionTimestamp != nil || p.UID != uid) {
		w.seen[p.Name] = true
		primary := ""
		if len(labelled) == 1 {
			primary = labelled[0]
		}
		w.order = append(w.order, replacement{pod: p.Name, workloadSet: ws, primaryThen: primary,
			othersReady: othersReady && others == w.perWS[ws]-1, at: time.Now()})
	}
	now := time.Now()
	switch since := w.noPrimarySince[ws]; {
	case len(labelled) > 1:
		w.doubles = append(w.doubles, fmt.Sprintf("%s: %v labelled primary at once", ws, labelled))
	case len(labelled) == 0 && since.IsZero():
		w.noPrimarySince[ws] = now
	case len(labelled) == 1 && !since.IsZero():
		w.noPrimary = max(w.noPrimary, now.Sub(since))
		delete(w.noPrimarySince, ws)
	}
}

func (w *rolloutWatch) finish() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// replaced reports whether every pod existing at the start was replaced.
func (w *rolloutWatch) replaced() error {
	after := podUIDsWith(w.ns, w.selector)
	for name, uid := range w.before {
		if after[name] == uid || after[name] == "" {
			return fmt.Errorf("pod %s not replaced yet", name)
		}
	}
	return nil
}

func podUIDsWith(ns, selector string) map[string]types.UID {
	out := map[string]types.UID{}
	pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return out
	}
	for _, p := range pods.Items {
		out[p.Name] = p.UID
	}
	return out
}

// checkRolloutOrder: in every WorkloadSet the old primary was replaced last,
// after another pod had taken the primary label, and every pod was replaced
// while all the others were Ready (one at a time); at no moment were two pods
// of a WorkloadSet labelled primary. It returns the order for the log.
func (w *rolloutWatch) checkRolloutOrder(t *testing.T, oldPrimary map[string]string) []replacement {
	t.Helper()
	w.finish()
	byWS := map[string][]replacement{}
	for _, r := range w.order {
		byWS[r.workloadSet] = append(byWS[r.workloadSet], r)
	}
	for ws, n := range w.perWS {
		got := byWS[ws]
		if len(got) != n || got[n-1].pod != oldPrimary[ws] {
			t.Errorf("%s: replacement order %v, want the %d replicas, then the old primary %s", ws, got, n-1, oldPrimary[ws])
			continue
		}
		if last := got[n-1]; last.primaryThen == oldPrimary[ws] || last.primaryThen == "" {
			t.Errorf("%s: the old primary %s was replaced while pod %q was labelled primary: no switchover", ws, last.pod, last.primaryThen)
		}
		for _, r := range got {
			if !r.othersReady {
				t.Errorf("%s: pod %s was replaced while another pod was missing or not Ready (order %v)", ws, r.pod, got)
			}
		}
	}
	if len(w.doubles) > 0 {
		t.Errorf("more than one pod labelled primary: %v", w.doubles)
	}
	if w.noPrimary > maxWriteGap {
		t.Errorf("a WorkloadSet had no pod labelled primary for %s", w.noPrimary)
	}
	return w.order
}

func designatedPrimary(t *testing.T, ns, ws string) string {
	t.Helper()
	obj := &plinthv1.WorkloadSet{}
	if err := api(t).Get(context.Background(), crclient.ObjectKey{Namespace: ns, Name: ws}, obj); err != nil {
		t.Fatal(err)
	}
	return obj.Status.Primary
}

// setRestartParam changes the parameter that needs a restart on the redis
// component (the Application's first).
func setRestartParam(t *testing.T, ns, app string) {
	t.Helper()
	patchApp(t, ns, app, func(a *plinthv1.Application) {
		a.Spec.Components[0].Parameters = map[string]string{restartParam: restartValue}
	})
}

func checkRestartParam(t *testing.T, pod string, got map[string]string, err error) {
	t.Helper()
	if err != nil || got[restartParam] != restartValue {
		t.Errorf("pod %s after the rollout: CONFIG GET %s = %q %v, want %s", pod, restartParam, got, err, restartValue)
	}
}

// roll changes the restart parameter while loop runs, waits until every pod
// w follows is replaced and the Application is Running again, stops the loop
// and checks the rollout's order and the write gap.
func roll(t *testing.T, ns, app string, w *rolloutWatch, loop *writeLoop, oldPrimary map[string]string, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	setRestartParam(t, ns, app)
	eventually(t, timeout, w.replaced)
	waitPhase(t, ns, app, plinthv1.ApplicationRunning, 5*time.Minute)
	took := time.Since(start)
	time.Sleep(2 * time.Second)
	loop.finish()
	order := w.checkRolloutOrder(t, oldPrimary)
	t.Logf("%s: rolling update of %d pods took %s; order %v; %s; longest time a WorkloadSet had no pod labelled primary %s",
		app, len(w.before), took.Round(time.Second), order, loop, w.noPrimary.Round(time.Millisecond))
	if loop.longest > maxWriteGap {
		t.Errorf("writes failed for %s in a row during the rollout; want a gap no longer than a switchover", loop.longest)
	}
	if len(loop.acked) == 0 {
		t.Fatalf("no write was acknowledged during the rollout (last error %v)", loop.lastErr)
	}
}

// rollReplicated rolls a replicated Redis (replication or sentinel, three
// pods) while a write loop runs through the read-write Service.
func rollReplicated(t *testing.T, ns, app string, first *corev1.Pod) *writeLoop {
	t.Helper()
	comp := naming.Component(app, "redis")
	password := secretValue(t, ns, naming.CredentialsSecret(app), "password")
	w := watchRollout(t, ns, comp)
	loop := startWriteLoop(serviceAddr(t, ns, naming.RoleService(comp, "primary"), 6379), password, writeInterval)
	roll(t, ns, app, w, loop, map[string]string{naming.WorkloadSet(comp, -1): first.Name}, 6*time.Minute)
	return loop
}

// checkReplicatedAfterRoll: the primary moved away from first, and every
// acknowledged write and the new parameter are on every pod.
func checkReplicatedAfterRoll(t *testing.T, ns, app string, first *corev1.Pod, loop *writeLoop) *corev1.Pod {
	t.Helper()
	comp := naming.Component(app, "redis")
	password := secretValue(t, ns, naming.CredentialsSecret(app), "password")
	// A key written after the loop is read back from every replica: they
	// have replicated everything before it.
	final := checkReplicatedRedis(t, ns, app, 3, "plinth:"+app+":after", "v2")
	if final.Name == first.Name {
		t.Errorf("the primary is still %s after the rollout: the switchover did not move it", first.Name)
	}
	if got := designatedPrimary(t, ns, naming.WorkloadSet(comp, -1)); got != final.Name {
		t.Errorf("WorkloadSet designates %q, the pod reporting primary is %s", got, final.Name)
	}
	pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: plinthv1.LabelComponent + "=" + comp})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if err := keysPresent(p.Status.PodIP+":6379", password, loop.acked); err != nil {
			t.Errorf("pod %s: %v", p.Name, err)
		}
		var got map[string]string
		err := onRedis(p.Status.PodIP+":6379", password, func(ctx context.Context, c *redis.Client) error {
			var err error
			got, err = c.ConfigGet(ctx, restartParam).Result()
			return err
		})
		checkRestartParam(t, p.Name, got, err)
	}
	return final
}

// Redis replication 1+2: the switchover is FAILOVER TO on the primary.
func TestRedisReplicationRollingUpdate(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	app := replicatedRedis(ns, "roll", "replication", map[string]int32{"redis": 3})
	if err := api(t).Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, ns, "roll", plinthv1.ApplicationRunning, toRunning)
	first := checkReplicatedRedis(t, ns, "roll", 3, "plinth:roll", "v1")
	loop := rollReplicated(t, ns, "roll", first)
	checkReplicatedAfterRoll(t, ns, "roll", first, loop)
}

// sentinelView is what one sentinel says about the monitored primary.
type sentinelView struct {
	pod, master string
	configEpoch int
}

// sentinelViews asks every sentinel pod where the primary is and at which
// configuration epoch (each failover increments it).
func sentinelViews(ns, app string) ([]sentinelView, error) {
	comp := naming.Component(app, "sentinel")
	pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: plinthv1.LabelComponent + "=" + comp})
	if err != nil {
		return nil, err
	}
	var out []sentinelView
	ctx := context.Background()
	for _, p := range pods.Items {
		r := redis.NewSentinelClient(redisOptions(p.Status.PodIP+":26379", ""))
		master, err := r.GetMasterAddrByName(ctx, app).Result()
		if err == nil && len(master) == 0 {
			err = fmt.Errorf("get-master-addr-by-name answered nothing")
		}
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("sentinel %s: %w", p.Name, err)
		}
		info, err := r.Master(ctx, app).Result()
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("sentinel %s: %w", p.Name, err)
		}
		v := sentinelView{pod: p.Name, master: master[0], configEpoch: -1}
		if e, ok := info["config-epoch"]; ok {
			v.configEpoch, _ = strconv.Atoi(e)
		}
		out = append(out, v)
	}
	return out, nil
}

// sentinelsAgree: every sentinel monitors pod primary; it returns their
// configuration epoch.
func sentinelsAgree(t *testing.T, ns, app, primary string, sentinels int) int {
	t.Helper()
	epoch := -1
	eventually(t, 2*time.Minute, func() error {
		views, err := sentinelViews(ns, app)
		if err != nil {
			return err
		}
		if len(views) != sentinels {
			return fmt.Errorf("%d sentinels answered, want %d", len(views), sentinels)
		}
		for _, v := range views {
			if !strings.HasPrefix(v.master, primary+".") || v.configEpoch != views[0].configEpoch {
				return fmt.Errorf("sentinels disagree or do not monitor %s: %+v", primary, views)
			}
		}
		epoch = views[0].configEpoch
		return nil
	})
	return epoch
}

// Redis with Sentinel 1+2 and 3 sentinels: the switchover is SENTINEL
// FAILOVER; the sentinels agree on the new primary afterwards.
func TestRedisSentinelRollingUpdate(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	const name = "sroll"
	app := replicatedRedis(ns, name, "sentinel", map[string]int32{"redis": 3, "sentinel": 3})
	if err := api(t).Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, ns, name, plinthv1.ApplicationRunning, toRunning)
	first := checkReplicatedRedis(t, ns, name, 3, "plinth:"+name, "v1")
	epoch := sentinelsAgree(t, ns, name, first.Name, 3)
	sentinelUIDs := podUIDsWith(ns, plinthv1.LabelComponent+"="+naming.Component(name, "sentinel"))

	loop := rollReplicated(t, ns, name, first)
	final := checkReplicatedAfterRoll(t, ns, name, first, loop)
	after := sentinelsAgree(t, ns, name, final.Name, 3)
	t.Logf("sentinels: primary %s -> %s, configuration epoch %d -> %d", first.Name, final.Name, epoch, after)
	if after <= epoch {
		t.Errorf("the sentinels' configuration epoch stayed %d: the primary did not move by a Sentinel failover", after)
	}
	for pod, uid := range podUIDsWith(ns, plinthv1.LabelComponent+"="+naming.Component(name, "sentinel")) {
		if sentinelUIDs[pod] != uid {
			t.Errorf("sentinel pod %s was replaced: only the redis component's parameter changed", pod)
		}
	}
}

// Redis Cluster 3 shards × (1+1): the switchover is CLUSTER FAILOVER on the
// shard's replica; the shards roll in parallel (one WorkloadSet each).
func TestRedisClusterRollingUpdate(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	const name = "croll"
	if err := api(t).Create(ctx, redisClusterApplication(ns, name)); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, ns, name, plinthv1.ApplicationRunning, clusterToRunning)
	password := secretValue(t, ns, naming.CredentialsSecret(name), "password")
	rc := newRedisCluster(t, ns, name, password)
	eventually(t, time.Minute, func() error { rc.reset(); return clusterHealthy(rc, ns, name) })
	eventually(t, time.Minute, func() error { return onePrimaryPerShard(t, ns, name) })
	comp := naming.Component(name, "redis")
	oldPrimary := map[string]string{}
	for s := int32(0); s < clusterShards; s++ {
		ws := naming.WorkloadSet(comp, s)
		oldPrimary[ws] = designatedPrimary(t, ns, ws)
	}

	w := watchRollout(t, ns, comp)
	writer := newRedisCluster(t, ns, name, password)
	loop := runWriteLoop(writeInterval, func(key string) error {
		got, err := writer.Set(ctx, key, "x", 0).Result()
		if err == nil && got != "OK" {
			err = fmt.Errorf("SET = %q", got)
		}
		return err
	}, writer.reset)
	roll(t, ns, name, w, loop, oldPrimary, 10*time.Minute)

	eventually(t, 2*time.Minute, func() error {
		if err := clusterHealthy(rc, ns, name); err != nil {
			rc.reset()
			return err
		}
		return nil
	})
	eventually(t, time.Minute, func() error { return onePrimaryPerShard(t, ns, name) })
	for ws, old := range oldPrimary {
		now := designatedPrimary(t, ns, ws)
		if now == old {
			t.Errorf("%s: the primary is still %s after the rollout", ws, old)
			continue
		}
		// The new primary took over by a manual failover (it sent the
		// MFSTART message to its primary), not by an automatic one after
		// the old primary was gone: it has not restarted since.
		info, err := rc.node(now).ClusterInfo(ctx).Result()
		if err != nil || !strings.Contains(info, "cluster_stats_messages_mfstart_sent:") {
			t.Errorf("%s: the new primary %s never started a manual failover (CLUSTER INFO %q %v)", ws, now, info, err)
		}
		t.Logf("%s: primary %s -> %s", ws, old, now)
	}
	for _, k := range loop.acked {
		if got, err := rc.Exists(ctx, k).Result(); err != nil || got != 1 {
			t.Fatalf("acknowledged write %s lost after the rollout (%d %v)", k, got, err)
		}
	}
	for _, pod := range clusterPods(name) {
		got, err := rc.node(pod).ConfigGet(ctx, restartParam).Result()
		checkRestartParam(t, pod, got, err)
	}
}
