//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	crclient "sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/conditions"
	mwt "github.com/plinth-io/plinth/internal/middlewaretest"
	"github.com/plinth-io/plinth/internal/naming"
)

const (
	// A shard's two pods start one after the other, then the reshard action
	// moves a quarter of the slots, on two shared cores.
	clusterToResharded = 10 * time.Minute
	// clusterLoopPause is the pause between two writes of the write loop.
	clusterLoopPause = 10 * time.Millisecond
	// clusterLoopMax bounds the write loop, whatever happens.
	clusterLoopMax = 40 * time.Minute
)

// clusterWriteLoop writes distinct keys to a Redis Cluster through its own
// cluster client, records every acknowledged write, and now and then reads
// back an acknowledged key.
type clusterWriteLoop struct {
	stop, done chan struct{}

	mu         sync.Mutex
	acked      []int
	errors     int
	lastError  string
	mismatches []string
}

func loopKey(i int) string   { return fmt.Sprintf("scale:{%d}", i) }
func loopValue(i int) string { return "v" + strconv.Itoa(i) }

func startClusterWriteLoop(t *testing.T, ns, app, password string) *clusterWriteLoop {
	w := &clusterWriteLoop{stop: make(chan struct{}), done: make(chan struct{})}
	rc := newRedisCluster(t, ns, app, password)
	deadline := time.Now().Add(clusterLoopMax)
	go func() {
		defer close(w.done)
		for i := 0; time.Now().Before(deadline); i++ {
			for {
				select {
				case <-w.stop:
					return
				default:
				}
				got, err := rc.Set(context.Background(), loopKey(i), loopValue(i), 0).Result()
				if err == nil && got == "OK" {
					break
				}
				rc.reset()
				w.mu.Lock()
				w.errors++
				w.lastError = fmt.Sprintf("SET %s: %q %v", loopKey(i), got, err)
				w.mu.Unlock()
				time.Sleep(100 * time.Millisecond)
			}
			w.mu.Lock()
			w.acked = append(w.acked, i)
			j := w.acked[rand.IntN(len(w.acked))]
			w.mu.Unlock()
			if i%10 == 0 {
				if got, err := rc.Get(context.Background(), loopKey(j)).Result(); err != nil && !errors.Is(err, redis.Nil) {
					rc.reset()
				} else if got != loopValue(j) {
					w.mu.Lock()
					w.mismatches = append(w.mismatches, fmt.Sprintf("GET %s = %q during the loop", loopKey(j), got))
					w.mu.Unlock()
				}
			}
			time.Sleep(clusterLoopPause)
		}
	}()
	return w
}

// halt stops the loop and returns the acknowledged keys.
func (w *clusterWriteLoop) halt() []int {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acked
}

func (w *clusterWriteLoop) summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("%d writes acknowledged, %d failed attempts (last: %s)", len(w.acked), w.errors, w.lastError)
}

// waitResharded waits until the Component has seen its spec, records
// shards formed, is Running and no longer resharding, then until the
// Application is Running.
func waitResharded(t *testing.T, ns, app string, shards int32) {
	t.Helper()
	eventually(t, clusterToResharded, func() error {
		c := &plinthv1.Component{}
		if err := api(t).Get(context.Background(), crclient.ObjectKey{Namespace: ns, Name: naming.Component(app, "redis")}, c); err != nil {
			return err
		}
		cond := conditions.Get(c.Status.Conditions, plinthv1.ConditionResharding)
		if c.Status.ObservedGeneration != c.Generation || c.Spec.Shards != shards || c.Status.FormedShards != shards ||
			c.Status.Phase != plinthv1.ComponentRunning || cond == nil || cond.Status != metav1.ConditionFalse {
			return fmt.Errorf("component: generation %d/%d, shards %d, formed %d, phase %s, Resharding %+v",
				c.Status.ObservedGeneration, c.Generation, c.Spec.Shards, c.Status.FormedShards, c.Status.Phase, cond)
		}
		return nil
	})
	waitPhase(t, ns, app, plinthv1.ApplicationRunning, clusterToResharded)
}

// waitResharding waits until the Component says it reshards (and is not
// Running).
func waitResharding(t *testing.T, ns, app string, reason string) {
	t.Helper()
	eventually(t, 2*time.Minute, func() error {
		c := &plinthv1.Component{}
		if err := api(t).Get(context.Background(), crclient.ObjectKey{Namespace: ns, Name: naming.Component(app, "redis")}, c); err != nil {
			return err
		}
		cond := conditions.Get(c.Status.Conditions, plinthv1.ConditionResharding)
		if cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != reason || c.Status.Phase == plinthv1.ComponentRunning {
			return fmt.Errorf("phase %s, Resharding %+v", c.Status.Phase, cond)
		}
		t.Logf("resharding: phase %s, %s: %s", c.Status.Phase, cond.Reason, cond.Message)
		return nil
	})
}

// slotsByPod counts the slots each primary holds, by pod name, and the
// nodes known, as pod's node sees the cluster.
func slotsByPod(rc *redisCluster, ns, app, pod string) (map[string]int, int, error) {
	nodes, err := rc.node(pod).ClusterNodes(context.Background()).Result()
	if err != nil {
		return nil, 0, err
	}
	out, known := map[string]int{}, 0
	for _, l := range strings.Split(strings.TrimSpace(nodes), "\n") {
		f := strings.Fields(l)
		if len(f) < 8 {
			continue
		}
		known++
		_, host, _ := strings.Cut(f[1], ",")
		name, _, _ := strings.Cut(host, ".")
		if !strings.Contains(f[2], "master") {
			continue
		}
		n, err := mwt.CountSlots(f[8:])
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %v", name, err)
		}
		out[name] += n
	}
	return out, known, nil
}

// slotsSpread: the primaries of shards [0, shards) hold every slot, each
// about an even share, and every pod of those shards knows exactly their
// nodes.
func slotsSpread(rc *redisCluster, ns, app string, shards int32) error {
	pods := shardPods(app, shards)
	for _, pod := range pods {
		counts, known, err := slotsByPod(rc, ns, app, pod)
		if err != nil {
			return err
		}
		if known != len(pods) {
			return fmt.Errorf("%s knows %d nodes, want %d", pod, known, len(pods))
		}
		total := 0
		for _, n := range counts {
			total += n
		}
		if total != 16384 || len(counts) != int(shards) {
			return fmt.Errorf("%s sees %d slots over %d primaries, want 16384 over %d: %v", pod, total, len(counts), shards, counts)
		}
		share := 16384 / int(shards)
		for name, n := range counts {
			if n*100 < share*98 {
				return fmt.Errorf("%s holds %d slots, want about %d: %v", name, n, share, counts)
			}
		}
	}
	return nil
}

// A Redis Cluster of 3 shards (a primary and a replica each) is scaled to 4
// shards and back through the Application's spec while a loop writes
// distinct keys and reads some back: the 4th shard gets an even share of
// the slots, scaling in moves them away before its WorkloadSet goes, and
// every acknowledged write is read back at the end.
func TestRedisClusterScaleOutAndIn(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	const name = "rcs"
	start := time.Now()
	if err := api(t).Create(ctx, redisClusterApplication(ns, name)); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, ns, name, plinthv1.ApplicationRunning, clusterToRunning)
	t.Logf("step 1, create 3x%d: Running after %s", clusterReplicas, time.Since(start).Round(time.Second))
	password := secretValue(t, ns, naming.CredentialsSecret(name), "password")
	rc := newRedisCluster(t, ns, name, password)
	eventually(t, time.Minute, func() error { rc.reset(); return clusterHealthy(rc, ns, name) })

	loop := startClusterWriteLoop(t, ns, name, password)
	halted := false
	defer func() {
		if !halted {
			loop.halt()
		}
	}()
	time.Sleep(5 * time.Second)
	t.Logf("write loop before scaling: %s", loop.summary())

	// Scale out to 4 shards.
	start = time.Now()
	patchApp(t, ns, name, func(a *plinthv1.Application) { a.Spec.Components[0].Shards = ptr[int32](4) })
	waitResharding(t, ns, name, plinthv1.ReasonScalingOut)
	waitResharded(t, ns, name, 4)
	t.Logf("step 2, scale out to 4 shards: Running after %s; %s", time.Since(start).Round(time.Second), loop.summary())
	eventually(t, time.Minute, func() error {
		rc.reset()
		if err := shardsHealthy(rc, ns, name, 4); err != nil {
			return err
		}
		return slotsSpread(rc, ns, name, 4)
	})
	counts, _, err := slotsByPod(rc, ns, name, shardPods(name, 4)[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("slots after scaling out: %v", counts)
	newShard := naming.WorkloadSet(naming.Component(name, "redis"), 3)
	if keys, err := rc.node(shardPods(name, 4)[6]).DBSize(ctx).Result(); err != nil || keys == 0 {
		// (ordinal 0 of the new shard is its primary unless it failed over.)
		keys1, err1 := rc.node(shardPods(name, 4)[7]).DBSize(ctx).Result()
		if err1 != nil || keys1 == 0 {
			t.Errorf("the new shard %s holds no key (%d %v, %d %v): keys should have moved to it", newShard, keys, err, keys1, err1)
		}
	}

	// Scale back in to 3 shards.
	start = time.Now()
	patchApp(t, ns, name, func(a *plinthv1.Application) { a.Spec.Components[0].Shards = ptr[int32](3) })
	waitResharding(t, ns, name, plinthv1.ReasonScalingIn)
	waitResharded(t, ns, name, 3)
	eventually(t, 3*time.Minute, func() error {
		if err := api(t).Get(ctx, crclient.ObjectKey{Namespace: ns, Name: newShard}, &plinthv1.WorkloadSet{}); !isGone(err) {
			return fmt.Errorf("WorkloadSet %s still there (%v)", newShard, err)
		}
		for _, pod := range shardPods(name, 4)[6:] {
			if _, err := client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{}); !isGone(err) {
				return fmt.Errorf("pod %s still there (%v)", pod, err)
			}
		}
		return nil
	})
	t.Logf("step 3, scale in to 3 shards: Running and the 4th shard gone after %s; %s", time.Since(start).Round(time.Second), loop.summary())
	eventually(t, time.Minute, func() error {
		rc.reset()
		if err := clusterHealthy(rc, ns, name); err != nil {
			return err
		}
		return slotsSpread(rc, ns, name, 3)
	})
	eventually(t, time.Minute, func() error { return onePrimaryPerShard(t, ns, name) })

	// Every acknowledged write is there.
	time.Sleep(5 * time.Second)
	acked := loop.halt()
	halted = true
	t.Logf("write loop: %s", loop.summary())
	if len(acked) < 100 {
		t.Fatalf("only %d writes were acknowledged: the loop proves nothing", len(acked))
	}
	for _, m := range loop.mismatches {
		t.Error(m)
	}
	start = time.Now()
	lost := 0
	for _, i := range acked {
		var got string
		eventually(t, time.Minute, func() error {
			var err error
			got, err = rc.Get(ctx, loopKey(i)).Result()
			if errors.Is(err, redis.Nil) {
				got, err = "", nil // lost: counted below
			}
			if err != nil {
				rc.reset()
			}
			return err
		})
		if got != loopValue(i) {
			lost++
			if lost <= 10 {
				t.Errorf("GET %s = %q, want %q", loopKey(i), got, loopValue(i))
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged writes lost", lost, len(acked))
	}
	t.Logf("step 4, read back all %d acknowledged keys in %s", len(acked), time.Since(start).Round(time.Second))
}
