package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/flowcontrol"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/plinth-io/plinth/apis/statusreport"
	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/testenv"
	"github.com/plinth-io/plinth/pluginregistry"
)

// Budget of every controller and of the floor's single client.
const (
	benchQPS   = 100
	benchBurst = 200
)

// workers is each controller's --workers. The application- and
// component-controller keep the default 8: more workers do not make them
// latency-tolerant here, as the API server allocates ClusterIPs one at a time
// (kube-apiserver 1.36 holds one lock per allocation while it creates the
// IPAddress object through its own API), so concurrent Service creations only
// queue there; with 32 workers Service applies waited up to the API server's
// 60 s request timeout already at 100 Applications, and every timed-out
// reconcile was retried with backoff. The workloadset-controller gets 32: at
// a thousand pods the stand-in agents' heartbeats (then every 10 s) enqueued
// 100 WorkloadSets a second, and with reconciles waiting about 180 ms on a
// busy API server 8 workers managed about 45 a second: 787 of 1000
// WorkloadSets were queued, and 200 stayed Creating with a running pod whose
// fresh report they had not taken in. With the 30 s heartbeat it is 33 a
// second; 32 workers were kept for the runs in docs/bench-chain.md.
var workers = map[string]int{"application": 8, "component": 8, "workloadset": 32}

var controllers = []string{"application", "component", "workloadset"}

func appCounts(b *testing.B) []int {
	spec := os.Getenv("PLINTH_BENCH_APPS")
	if spec == "" {
		spec = "100,1000"
	}
	var out []int
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("PLINTH_BENCH_APPS=%q: want a comma-separated list of positive counts", spec)
		}
		out = append(out, n)
	}
	return out
}

func BenchmarkStandaloneRedisApplications(b *testing.B) {
	// The benchmark's own clients log nothing (controller-runtime would
	// otherwise print a stack trace saying so).
	ctrllog.SetLogger(logr.Discard())
	for _, n := range appCounts(b) {
		b.Run(fmt.Sprintf("apps=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				runChain(b, n)
			}
		})
	}
}

// runChain starts a fresh API server, the three controllers and a kubelet
// stand-in, creates n standalone Redis Applications and waits until all are
// Running; then measures the floor.
func runChain(b *testing.B, n int) {
	// Three ClusterIP Services per Application: more than the default /24 holds.
	env, err := testenv.Start(testenv.WithAPIServerFlag("service-cluster-ip-range", "10.96.0.0/12"))
	if err != nil {
		b.Fatal(err)
	}
	defer env.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := env.InstallPlugins(ctx, pluginregistry.DefaultNamespace, "redis/v1.0.0"); err != nil {
		b.Fatal(err)
	}
	fast := rest.CopyConfig(env.Config)
	fast.QPS, fast.Burst = 2000, 4000
	kc := kubernetes.NewForConfigOrDie(fast)
	unrelated := unrelatedCount(b)
	createUnrelated(ctx, b, kc, unrelated)
	bins := buildControllers(b, env.Root)
	kubeconfig, err := env.Kubeconfig()
	if err != nil {
		b.Fatal(err)
	}
	procs := startControllers(b, bins, map[string]string{"": kubeconfig})
	defer stopControllers(procs)

	c, err := client.New(fast, client.Options{Scheme: env.Scheme})
	if err != nil {
		b.Fatal(err)
	}
	const ns = "bench"
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	// The stand-in and the count below stop before the floor, which runs alone.
	chainCtx, stopChain := context.WithCancel(ctx)
	defer stopChain()
	go standInKubelet(chainCtx, kc, c, ns)
	// The Applications are counted in a watch-fed cache: listing a thousand
	// of them every half second cost the API server more than a second each.
	apps, err := crcache.New(fast, crcache.Options{Scheme: env.Scheme, DefaultNamespaces: map[string]crcache.Config{ns: {}}})
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = apps.Start(chainCtx) }()
	if _, err := apps.GetInformer(ctx, &plinthv1.Application{}); err != nil {
		b.Fatal(err)
	}

	start := time.Now()
	if dir := os.Getenv("PLINTH_BENCH_PROFILE"); dir != "" {
		go profile(ctx, b, dir, n, kc, procs)
	}
	for i := 0; i < n; i++ {
		if err := c.Create(ctx, application(ns, fmt.Sprintf("app-%d", i))); err != nil {
			b.Fatal(err)
		}
	}
	for {
		var list plinthv1.ApplicationList
		if err := apps.List(ctx, &list, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		running := 0
		for _, a := range list.Items {
			if a.Status.Phase == plinthv1.ApplicationRunning {
				running++
			}
		}
		if running == n {
			break
		}
		if time.Since(start) > waitLimit() {
			// go test shows a benchmark's first lines only: the figures first.
			b.Logf("only %d of %d Applications Running after %s", running, n, waitLimit())
			logControllers(b, procs, n)
			logAPIServer(ctx, b, kc)
			dumpState(ctx, b, c, kc, ns)
			b.Fatalf("only %d of %d Applications Running after %s", running, n, waitLimit())
		}
		time.Sleep(500 * time.Millisecond)
	}
	chain := time.Since(start)

	requests, peakRSS := logControllers(b, procs, n)
	logAPIServer(ctx, b, kc) // the chain's requests only: before the floor
	b.ReportMetric(chain.Seconds(), "s-to-all-running")
	b.ReportMetric(requests/float64(n), "requests/app")
	b.ReportMetric(float64(peakRSS)/1024, "controllers-peak-RSS-MiB")
	if os.Getenv("PLINTH_BENCH_FLOOR") == "0" {
		b.Logf("apps=%d, %d unrelated Pods, Secrets and ConfigMaps each: chain %s, %.1f API requests per app, controllers' peak RSS %.0f MiB (no floor: PLINTH_BENCH_FLOOR=0)",
			n, unrelated, chain.Round(time.Millisecond), requests/float64(n), float64(peakRSS)/1024)
		return
	}
	// The floor runs alone: the controllers would otherwise reconcile its
	// objects, and the stand-in's heartbeats would slow it down.
	stopControllers(procs)
	stopChain()
	objects := objectsOf(ctx, b, c, ns, "app-0")
	floor := writeFloor(ctx, b, env.Config, env.Scheme, objects, n)

	b.ReportMetric(floor.Seconds(), "floor-s")
	b.ReportMetric(chain.Seconds()/floor.Seconds(), "ratio")
	b.Logf("apps=%d, %d unrelated Pods, Secrets and ConfigMaps each: chain %s, floor %s (%d objects per app written by one client at %d QPS), ratio %.2f, %.1f API requests per app, controllers' peak RSS %.0f MiB",
		n, unrelated, chain.Round(time.Millisecond), floor.Round(time.Millisecond), len(objects), benchQPS, chain.Seconds()/floor.Seconds(), requests/float64(n), float64(peakRSS)/1024)
}

func application(ns, name string) *plinthv1.Application {
	one := int32(1)
	return &plinthv1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: plinthv1.ApplicationSpec{
			Plugin: "redis", PluginVersion: "v1.0.0", Version: "7.2", Topology: "standalone",
			Components: []plinthv1.ApplicationComponent{{Name: "redis", Replicas: &one,
				Storage: &plinthv1.StorageSpec{Size: resource.MustParse("1Gi")}}},
		},
	}
}

var buildOnce sync.Once

// buildControllers builds the controller binaries once per test binary,
// into a folder of their own per checkout (worktrees may run the benchmark
// at the same time).
func buildControllers(b testing.TB, root string) map[string]string {
	dir := filepath.Join(os.TempDir(), "plinth-bench-bin", strings.ReplaceAll(strings.Trim(root, "/"), "/", "_"))
	bins := map[string]string{}
	for _, c := range controllers {
		bins[c] = filepath.Join(dir, c+"-controller")
	}
	var err error
	buildOnce.Do(func() {
		args := []string{"build", "-o", dir + "/"}
		for _, c := range controllers {
			args = append(args, "./controllers/"+c)
		}
		if e := os.MkdirAll(dir, 0o755); e != nil {
			err = e
			return
		}
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		if out, e := cmd.CombinedOutput(); e != nil {
			err = fmt.Errorf("go build: %v\n%s", e, out)
		}
		for _, c := range controllers {
			_ = os.Rename(filepath.Join(dir, c), bins[c])
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	return bins
}

type controllerProc struct {
	cmd            *exec.Cmd
	metrics, pprof string
}

func freePort(b testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startControllers starts the three controllers, each with its kubeconfig
// (kubeconfigs[c], or kubeconfigs[""] for all) and extra flags.
func startControllers(b testing.TB, bins map[string]string, kubeconfigs map[string]string, extra ...string) []controllerProc {
	var procs []controllerProc
	for _, c := range controllers {
		metrics, pprof := freePort(b), freePort(b)
		args := append([]string{
			"--leader-elect=false", "--log-level=error",
			"--metrics-bind-address=" + metrics, "--health-probe-bind-address=" + freePort(b), "--pprof-bind-address=" + pprof, "--workers=" + strconv.Itoa(workers[c]),
			"--kube-api-qps=" + strconv.Itoa(benchQPS), "--kube-api-burst=" + strconv.Itoa(benchBurst),
			"--plinth-image=localhost/plinth/plinth:bench"}, extra...)
		cmd := exec.Command(bins[c], args...)
		kubeconfig, ok := kubeconfigs[c]
		if !ok {
			kubeconfig = kubeconfigs[""]
		}
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			stopControllers(procs)
			b.Fatal(err)
		}
		procs = append(procs, controllerProc{cmd: cmd, metrics: metrics, pprof: pprof})
	}
	return procs
}

func stopControllers(procs []controllerProc) {
	for _, p := range procs {
		if p.cmd.ProcessState != nil {
			continue // already stopped
		}
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

// logControllers logs each controller's requests per Application, reconciles
// and peak RSS, and returns the requests and peak RSS of all three.
func logControllers(b *testing.B, procs []controllerProc, n int) (requests float64, peakRSS int64) {
	for i, p := range procs {
		m := scrapeMetrics(b, p.metrics)
		rss := peakRSSKiB(p.cmd.Process.Pid)
		requests += m.requests
		peakRSS += rss
		b.Logf("%s-controller: %.1f requests per app %v, %d reconciles of %.0f ms on average, peak RSS %.0f MiB",
			controllers[i], m.requests/float64(n), m.byMethod, int(m.reconciles), 1000*m.reconcileSeconds/max(m.reconciles, 1), float64(rss)/1024)
	}
	return requests, peakRSS
}

// logAPIServer logs the requests the API server spent most time on
// (apiserver_request_duration_seconds by verb, resource and subresource):
// where a slow chain waits.
func logAPIServer(ctx context.Context, b *testing.B, kc kubernetes.Interface) {
	raw, err := kc.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		b.Logf("API server metrics: %v", err)
		return
	}
	type stat struct{ seconds, count float64 }
	stats := map[string]*stat{}
	for _, line := range strings.Split(string(raw), "\n") {
		name, rest, ok := strings.Cut(line, "{")
		if !ok || (name != "apiserver_request_duration_seconds_sum" && name != "apiserver_request_duration_seconds_count") {
			continue
		}
		labels, value, _ := strings.Cut(rest, "} ")
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		key := label(labels, "verb") + " " + label(labels, "resource")
		if sub := label(labels, "subresource"); sub != "" {
			key += "/" + sub
		}
		if label(labels, "verb") == "WATCH" {
			continue // open for the whole run
		}
		st := stats[key]
		if st == nil {
			st = &stat{}
			stats[key] = st
		}
		if name == "apiserver_request_duration_seconds_sum" {
			st.seconds += v
		} else {
			st.count += v
		}
	}
	keys := make([]string, 0, len(stats))
	for k := range stats {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return stats[keys[i]].seconds > stats[keys[j]].seconds })
	for _, k := range keys[:min(len(keys), 5)] {
		st := stats[k]
		b.Logf("API server: %s: %.0f requests, %.0f ms on average", k, st.count, 1000*st.seconds/max(st.count, 1))
	}
}

// label is the value of label name in a Prometheus label list.
func label(labels, name string) string {
	_, rest, ok := strings.Cut(","+labels, ","+name+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// controllerMetrics are a controller's API requests (client-go's
// rest_client_requests_total, in all and by method) and its reconciles
// (controller-runtime's count and total time).
type controllerMetrics struct {
	requests                     float64
	byMethod                     map[string]float64
	reconciles, reconcileSeconds float64
}

func scrapeMetrics(b *testing.B, addr string) controllerMetrics {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	m := controllerMetrics{byMethod: map[string]float64{}}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(line, "rest_client_requests_total{"):
			m.requests += v
			if _, rest, ok := strings.Cut(line, `method="`); ok {
				method, _, _ := strings.Cut(rest, `"`)
				m.byMethod[method] += v
			}
		case strings.HasPrefix(line, "controller_runtime_reconcile_time_seconds_sum{"):
			m.reconcileSeconds += v
		case strings.HasPrefix(line, "controller_runtime_reconcile_time_seconds_count{"):
			m.reconciles += v
		}
	}
	return m
}

// peakRSSKiB is a process's peak resident set (VmHWM).
func peakRSSKiB(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			v, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return v
		}
	}
	return 0
}

// standInKubelet plays kubelet and the status agent: every new pod is marked
// Running and Ready, and gets a status report saying it is a healthy
// primary; like the real agent, it rewrites every pod's report each
// heartbeat, the one the agent's probe file and the pod's WorkloadSet carry
// (spec.heartbeatSeconds, the plugin's status probe heartbeat), so reports
// never go stale. Each pod has its own heartbeat, started when the pod is
// first seen, as each pod runs its own agent: one loop patching every pod in
// turn takes longer than a heartbeat once there are a thousand pods and the
// API server is busy, and reports then go stale for a reason no real cluster
// has.
func standInKubelet(ctx context.Context, kc kubernetes.Interface, c client.Client, ns string) {
	var seq atomic.Uint64
	// report writes a fresh report on the pod; false when that pod is gone.
	report := func(name string, uid types.UID) bool {
		rep := statusreport.Report{Role: "primary", Healthy: true, Timestamp: time.Now(), Sequence: seq.Add(1)}
		data, _ := rep.Marshal()
		// The uid makes the patch fail on a successor of the same name.
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"uid": uid, "annotations": map[string]string{plinthv1.AnnotationStatusReport: string(data)}}})
		_, err := kc.CoreV1().Pods(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		return !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) && !apierrors.IsInvalid(err)
	}
	var beating sync.Map // pod UID -> struct{}
	heartbeat := func(pod *corev1.Pod) {
		name, uid := pod.Name, pod.UID
		if _, dup := beating.LoadOrStore(uid, struct{}{}); dup {
			return
		}
		go func() {
			defer beating.Delete(uid)
			// The agent reads its heartbeat once, from its probe file.
			ws := &plinthv1.WorkloadSet{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: pod.Labels[plinthv1.LabelWorkloadSet]}, ws); err != nil || ws.Spec.HeartbeatSeconds < 1 {
				return // deleted, or the benchmark is over
			}
			tick := time.NewTicker(time.Duration(ws.Spec.HeartbeatSeconds) * time.Second)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					if !report(name, uid) {
						return
					}
				}
			}
		}()
	}
	handle := func(obj any) {
		pod, ok := obj.(*corev1.Pod)
		if !ok || pod.DeletionTimestamp != nil {
			return
		}
		if pod.Status.Phase == corev1.PodRunning || pod.Annotations[plinthv1.AnnotationStatusReport] != "" {
			heartbeat(pod)
			return
		}
		if !report(pod.Name, pod.UID) {
			return
		}
		heartbeat(pod)
		status, _ := json.Marshal(map[string]any{"status": map[string]any{
			"phase": corev1.PodRunning, "podIP": "10.0.0.1",
			"conditions": []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}},
		}})
		_, _ = kc.CoreV1().Pods(ns).Patch(ctx, pod.Name, types.MergePatchType, status, metav1.PatchOptions{}, "status")
	}
	lw := cache.NewListWatchFromClient(kc.CoreV1().RESTClient(), "pods", ns, fieldsEverything())
	_, ctrl := cache.NewInformerWithOptions(cache.InformerOptions{
		ListerWatcher: lw, ObjectType: &corev1.Pod{},
		Handler: cache.ResourceEventHandlerFuncs{AddFunc: handle, UpdateFunc: func(_, o any) { handle(o) }},
	})
	ctrl.Run(ctx.Done())
}

// objectsOf lists what the chain made for one Application (everything
// labelled with it, and the Application itself): the floor writes the same.
func objectsOf(ctx context.Context, b *testing.B, c client.Client, ns, app string) []client.Object {
	a := &plinthv1.Application{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: app}, a); err != nil {
		b.Fatal(err)
	}
	out := []client.Object{a}
	lists := []client.ObjectList{&plinthv1.ComponentList{}, &plinthv1.WorkloadSetList{},
		&corev1.ConfigMapList{}, &corev1.SecretList{}, &corev1.ServiceList{}, &corev1.ServiceAccountList{},
		&rbacv1.RoleList{}, &rbacv1.RoleBindingList{}, &corev1.PersistentVolumeClaimList{}, &corev1.PodList{}}
	for _, l := range lists {
		if err := c.List(ctx, l, client.InNamespace(ns), client.MatchingLabels{plinthv1.LabelApplication: app}); err != nil {
			b.Fatal(err)
		}
		items, err := metaItems(l)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, items...)
	}
	return out
}

// writeFloor creates copies of objects for n Applications with one client
// limited to the controllers' QPS budget.
func writeFloor(ctx context.Context, b *testing.B, cfg *rest.Config, scheme *runtime.Scheme, objects []client.Object, n int) time.Duration {
	limited := rest.CopyConfig(cfg)
	limited.QPS, limited.Burst = benchQPS, benchBurst
	limited.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(benchQPS, benchBurst)
	c, err := client.New(limited, client.Options{Scheme: scheme})
	if err != nil {
		b.Fatal(err)
	}
	const ns = "floor"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		for _, o := range objects {
			cp := o.DeepCopyObject().(client.Object)
			cp.SetNamespace(ns)
			cp.SetName(strings.Replace(cp.GetName(), "app-0", fmt.Sprintf("floor-%d", i), 1))
			cp.SetResourceVersion("")
			cp.SetUID("")
			cp.SetOwnerReferences(nil)
			cp.SetManagedFields(nil)
			cp.SetCreationTimestamp(metav1.Time{})
			cp.SetFinalizers(nil)
			if svc, ok := cp.(*corev1.Service); ok && svc.Spec.ClusterIP != corev1.ClusterIPNone {
				svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil // allocated by the API server
			}
			if err := c.Create(ctx, cp); err != nil {
				b.Fatalf("floor: creating %T %s: %v", cp, cp.GetName(), err)
			}
		}
	}
	return time.Since(start)
}

// waitLimit bounds the wait for all Applications (PLINTH_BENCH_WAIT, default 30m).
func waitLimit() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("PLINTH_BENCH_WAIT")); err == nil && d > 0 {
		return d
	}
	return 30 * time.Minute
}

// dumpState logs where the chain stopped, for a failed run.
func dumpState(ctx context.Context, b *testing.B, c client.Client, kc kubernetes.Interface, ns string) {
	var apps plinthv1.ApplicationList
	_ = c.List(ctx, &apps, client.InNamespace(ns))
	for _, a := range apps.Items {
		b.Logf("application %s: phase %q ready %q conditions %+v", a.Name, a.Status.Phase, a.Status.Ready, a.Status.Conditions)
	}
	var comps plinthv1.ComponentList
	_ = c.List(ctx, &comps, client.InNamespace(ns))
	for _, x := range comps.Items {
		b.Logf("component %s: phase %q ready %q conditions %+v", x.Name, x.Status.Phase, x.Status.Ready, x.Status.Conditions)
	}
	var wss plinthv1.WorkloadSetList
	_ = c.List(ctx, &wss, client.InNamespace(ns))
	for _, x := range wss.Items {
		b.Logf("workloadset %s: phase %q ready %q members %+v conditions %+v", x.Name, x.Status.Phase, x.Status.Ready, x.Status.Members, x.Status.Conditions)
	}
	pods, _ := kc.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	for _, p := range pods.Items {
		b.Logf("pod %s: phase %q conditions %+v", p.Name, p.Status.Phase, p.Status.Conditions)
	}
}

// profile writes 30 s CPU profiles of the API server and of each controller,
// taken together from PLINTH_BENCH_PROFILE_AFTER (default 10 s) after the
// first Application is created, into dir/apps=N-NAME.pprof
// (PLINTH_BENCH_PROFILE=dir).
func profile(ctx context.Context, b *testing.B, dir string, n int, kc kubernetes.Interface, procs []controllerProc) {
	after, err := time.ParseDuration(os.Getenv("PLINTH_BENCH_PROFILE_AFTER"))
	if err != nil {
		after = 10 * time.Second
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(after):
	}
	save := func(name string, data []byte, err error) {
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, fmt.Sprintf("apps=%d-%s.pprof", n, name)), data, 0o644)
		}
		if err != nil && ctx.Err() == nil {
			b.Logf("profile of %s: %v", name, err)
		}
	}
	var wg sync.WaitGroup
	wg.Add(1 + len(procs))
	go func() {
		defer wg.Done()
		data, err := kc.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").Param("seconds", "30").DoRaw(ctx)
		save("kube-apiserver", data, err)
	}()
	for i, p := range procs {
		go func() {
			defer wg.Done()
			resp, err := http.Get("http://" + p.pprof + "/debug/pprof/profile?seconds=30")
			if err != nil {
				save(controllers[i], nil, err)
				return
			}
			defer resp.Body.Close()
			data, err := io.ReadAll(resp.Body)
			save(controllers[i], data, err)
		}()
	}
	wg.Wait()
}
