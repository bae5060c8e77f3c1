package operation_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/controllers/operation/internal/operation"
	"github.com/plinth-io/plinth/internal/ctrlmanager"
	"github.com/plinth-io/plinth/internal/testenv"
)

// benchTargets is the number of Applications, one Operation each.
const benchTargets = 100

// BenchmarkOperationStart measures the time from an Operation's creation
// to its first step running, with one Operation on each of 100 targets
// created at once, against a floor measured in the same run: the same
// Operations created in another namespace and moved to the same state by
// the benchmark itself with the one status write the controller makes
// (Running, its plan, the first step Running), 16 creators at a time. Both are timed from the create call's return to
// a watch seeing the first step Running.
//
//	go test -run '^$' -bench OperationStart -benchtime 1x ./controllers/operation/internal/operation/
func BenchmarkOperationStart(b *testing.B) {
	for i := 0; i < b.N; i++ {
		ns := benchNamespace(b)
		floorNS := benchNamespace(b)
		ctx := context.Background()
		for j := 0; j < benchTargets; j++ {
			app := benchApp(ns, fmt.Sprintf("app-%d", j))
			if err := env.Client.Create(ctx, app); err != nil {
				b.Fatal(err)
			}
		}
		m := testenv.StartManager(b, env, testenv.ManagerOptions{Name: "operation-controller", Namespace: ns,
			Tune: func(o *ctrlmanager.Options) { o.Workers = ctrlmanager.DefaultWorkers }},
			func(ctx context.Context, m *testenv.Manager) error {
				return operation.Setup(ctx, m, operation.Options{
					FieldManager: m.FieldManager(), Controller: m.ControllerOptions(),
					PlatformNamespace: m.Options.PlatformNamespace, Plugins: plugins,
				})
			})
		cfg := rest.CopyConfig(env.Config)
		cfg.QPS, cfg.Burst = m.Options.QPS, m.Options.Burst
		var err error
		if budgeted, err = client.New(cfg, client.Options{Scheme: env.Scheme}); err != nil {
			b.Fatal(err)
		}
		chain := startLatencies(b, ns, func(ctx context.Context, op *plinthv1.Operation) error { return budgeted.Create(ctx, op) })
		if err := m.Stop(); err != nil {
			b.Fatal(err)
		}
		floor := startLatencies(b, floorNS, floorWrites)
		b.ReportMetric(pct(chain, 50).Seconds()*1000, "p50-ms")
		b.ReportMetric(pct(chain, 99).Seconds()*1000, "p99-ms")
		b.ReportMetric(pct(floor, 50).Seconds()*1000, "floor-p50-ms")
		b.ReportMetric(pct(chain, 50).Seconds()/pct(floor, 50).Seconds(), "ratio-p50")
		b.Logf("%d Operations on %d targets, create to first step Running: p50 %s, p99 %s; floor p50 %s, p99 %s; ratio p50 %.2f, p99 %.2f",
			benchTargets, benchTargets, pct(chain, 50).Round(time.Millisecond), pct(chain, 99).Round(time.Millisecond),
			pct(floor, 50).Round(time.Millisecond), pct(floor, 99).Round(time.Millisecond),
			pct(chain, 50).Seconds()/pct(floor, 50).Seconds(), pct(chain, 99).Seconds()/pct(floor, 99).Seconds())
	}
}

func benchNamespace(b *testing.B) string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "opbench-"}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = env.Client.Delete(context.Background(), ns) })
	return ns.Name
}

func benchApp(ns, name string) *plinthv1.Application {
	one := int32(1)
	return &plinthv1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: plinthv1.ApplicationSpec{Plugin: "redis", PluginVersion: "v1.2.0", Version: "7.2", Topology: "standalone",
			Components: []plinthv1.ApplicationComponent{{Name: "redis", Replicas: &one, Storage: &plinthv1.StorageSpec{Size: resource.MustParse("1Gi")}}}},
	}
}

// startLatencies creates one HorizontalScale Operation per target in ns
// through create (16 at a time) and returns, per Operation, the time from
// just before the create call to a watch seeing its first step Running.
func startLatencies(b *testing.B, ns string, create func(context.Context, *plinthv1.Operation) error) []time.Duration {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := crcache.New(env.Config, crcache.Options{Scheme: env.Scheme, DefaultNamespaces: map[string]crcache.Config{ns: {}}})
	if err != nil {
		b.Fatal(err)
	}
	inf, err := c.GetInformer(ctx, &plinthv1.Operation{})
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	created, seen := map[string]time.Time{}, map[string]time.Time{}
	done := make(chan struct{})
	record := func(obj any) {
		op, ok := obj.(*plinthv1.Operation)
		if !ok || len(op.Status.Steps) == 0 || op.Status.Steps[0].Phase != plinthv1.StepRunning {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if _, ok := seen[op.Name]; !ok {
			seen[op.Name] = time.Now()
			if len(seen) == benchTargets {
				close(done)
			}
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: record, UpdateFunc: func(_, n any) { record(n) }}); err != nil {
		b.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		b.Fatal("cache not synced")
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				op := &plinthv1.Operation{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("scale-%d", j), Namespace: ns},
					Spec: plinthv1.OperationSpec{TargetRef: plinthv1.TargetReference{Name: fmt.Sprintf("app-%d", j)}, TemplateRef: "HorizontalScale",
						Parameters: map[string]string{"component": "redis", "replicas": "2"}}}
				mu.Lock()
				created[op.Name] = time.Now()
				mu.Unlock()
				if err := create(ctx, op); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	for j := 0; j < benchTargets; j++ {
		work <- j
	}
	close(work)
	wg.Wait()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("only %d of %d Operations started within 2 minutes", len(seen), benchTargets)
	}
	mu.Lock()
	defer mu.Unlock()
	var out []time.Duration
	for name, t := range seen {
		out = append(out, t.Sub(created[name]))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// floorWrites creates op and writes the status change the controller makes
// before the first step runs (Running, its plan, the first step Running), through a client with the
// test manager's request budget (200 QPS, burst 400), as the chain's
// creates are.
func floorWrites(ctx context.Context, op *plinthv1.Operation) error {
	if err := budgeted.Create(ctx, op); err != nil {
		return err
	}
	now := metav1.Now()
	op.Status = plinthv1.OperationStatus{Phase: plinthv1.OperationRunning, StartTime: &now, PluginVersion: "v1.2.0",
		Steps: []plinthv1.StepStatus{{Name: "patch-replicas", Type: "patch", Phase: plinthv1.StepRunning, StartTime: &now, Attempts: 1}, {Name: "wait-scaled", Type: "wait", Phase: plinthv1.StepPending}}}
	return budgeted.Status().Update(ctx, op)
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := (len(d)*p + 99) / 100
	if i > 0 {
		i--
	}
	return d[min(i, len(d)-1)]
}

// budgeted is the benchmark's client, with the controller's request budget.
var budgeted client.Client
