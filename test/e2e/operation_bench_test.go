//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/naming"
)

// BenchmarkRestartInPlace restarts every redis-server of a Redis 1+2
// replication set with a Restart Operation (in place through procmgr,
// replicas first, a switchover, the former primary last) and compares it
// with restarting the same set the way a user would without Plinth:
// deleting its pods one at a time (replicas first, the primary last), each
// back, Ready and healthy before the next. Both end when the Application is
// Running again; the ratio is deletion time / in-place time.
//
//	make test-e2e E2E_FLAGS="-test.run '^$' -test.bench RestartInPlace -test.benchtime 1x"
func BenchmarkRestartInPlace(b *testing.B) {
	ns := namespace(b)
	app := redisForOperations(ns, "bench", "replication", 3)
	if err := api(b).Create(context.Background(), app); err != nil {
		b.Fatal(err)
	}
	waitPhase(b, ns, app.Name, plinthv1.ApplicationRunning, 5*time.Minute)
	comp := naming.Component(app.Name, "redis")
	ws := naming.WorkloadSet(comp, -1)
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("restart-%d", i)
		start := time.Now()
		createOperation(b, ns, name, app.Name, "Restart", nil)
		waitOperation(b, ns, name, plinthv1.OperationSucceeded, 10*time.Minute)
		waitPhase(b, ns, app.Name, plinthv1.ApplicationRunning, 5*time.Minute)
		inPlace := time.Since(start)

		start = time.Now()
		deletePodsOneAtATime(b, ns, comp, ws)
		waitPhase(b, ns, app.Name, plinthv1.ApplicationRunning, 10*time.Minute)
		deletion := time.Since(start)

		b.ReportMetric(inPlace.Seconds(), "in-place-s")
		b.ReportMetric(deletion.Seconds(), "pod-deletion-s")
		b.ReportMetric(deletion.Seconds()/inPlace.Seconds(), "ratio")
		b.Logf("Redis 1+2: Restart Operation in place %s; deleting the pods one at a time %s; in place is %.1fx faster",
			inPlace.Round(100*time.Millisecond), deletion.Round(100*time.Millisecond), deletion.Seconds()/inPlace.Seconds())
	}
}

// deletePodsOneAtATime deletes the component's pods, replicas first and
// the primary last, waiting after each until the pod is back (a new UID),
// Ready, and reported healthy in the WorkloadSet.
func deletePodsOneAtATime(b *testing.B, ns, comp, ws string) {
	b.Helper()
	ctx := context.Background()
	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: plinthv1.LabelComponent + "=" + comp})
	if err != nil {
		b.Fatal(err)
	}
	items := pods.Items
	sort.SliceStable(items, func(i, j int) bool {
		pi, pj := items[i].Labels[plinthv1.LabelRole] == "primary", items[j].Labels[plinthv1.LabelRole] == "primary"
		if pi != pj {
			return pj
		}
		return items[i].Name < items[j].Name
	})
	for _, p := range items {
		if err := client.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
			b.Fatal(err)
		}
		eventually(b, 10*time.Minute, func() error {
			cur, err := client.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if cur.UID == p.UID {
				return fmt.Errorf("pod %s not replaced yet", p.Name)
			}
			ready := false
			for _, c := range cur.Status.Conditions {
				ready = ready || (c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue)
			}
			if !ready {
				return fmt.Errorf("pod %s not Ready yet", p.Name)
			}
			m, err := member(b, ns, ws, p.Name)
			if err != nil {
				return err
			}
			if !m.Ready || !m.Healthy {
				return fmt.Errorf("member %s: ready %t healthy %t", p.Name, m.Ready, m.Healthy)
			}
			return nil
		})
	}
}
