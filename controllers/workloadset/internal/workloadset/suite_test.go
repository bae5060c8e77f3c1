package workloadset

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/plinth-io/plinth/apis/statusreport"
	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/ctrlmanager"
	"github.com/plinth-io/plinth/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	// PLINTH_TEST_LOG=1 shows the controllers' logs.
	if os.Getenv("PLINTH_TEST_LOG") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	os.Exit(testenv.Run(m, &env))
}

// waitTimeout is generous: the machine is shared; tests poll, never time.
const waitTimeout = 2 * time.Minute

var nsCounter atomic.Int32

// harness is one test's namespace with its own workloadset-controller.
type harness struct {
	t   *testing.T
	ctx context.Context
	c   client.Client
	ns  string
	// stopController stops the controller start ran.
	stopController func()
	// wrap, when set before the controller starts, wraps its API
	// transport (to count its writes).
	wrap func(http.RoundTripper) http.RoundTripper
}

// start creates a namespace and runs a controller manager watching only it,
// built the way the binary builds it (rate-limited client, worker pool,
// per-object backoff, per-reconcile deadline).
func start(t *testing.T, tune func(o *ctrlmanager.Options, cfg *Options)) *harness {
	t.Helper()
	return startWrapped(t, tune, nil)
}

// startWrapped is start with the controller's API transport wrapped.
func startWrapped(t *testing.T, tune func(o *ctrlmanager.Options, cfg *Options), wrap func(http.RoundTripper) http.RoundTripper) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ns := fmt.Sprintf("ws-%s-%d", strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), nsCounter.Add(1))
	if len(ns) > 63 {
		ns = ns[len(ns)-63:]
		ns = strings.TrimLeft(ns, "-")
	}
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, ctx: ctx, c: env.Client, ns: ns, wrap: wrap}
	h.stopController = h.startController(tune)
	return h
}

// startController runs a controller manager watching the harness's
// namespace until the test ends or the returned stop is called.
func (h *harness) startController(tune func(o *ctrlmanager.Options, cfg *Options)) (stop func()) {
	t := h.t
	t.Helper()
	var cfg Options
	m := testenv.StartManager(t, env, testenv.ManagerOptions{
		Name:      "workloadset-controller",
		Namespace: h.ns,
		RestConfig: func(c *rest.Config) {
			if h.wrap != nil {
				c.WrapTransport = h.wrap
			}
		},
		Tune: func(o *ctrlmanager.Options) {
			o.Workers = 8
			o.ReconcileTimeout = 30 * time.Second
			o.BackoffBase, o.BackoffMax = 50*time.Millisecond, 5*time.Second
			cfg.FieldManager = o.FieldManager()
			if tune != nil {
				tune(o, &cfg)
			}
		},
	}, func(ctx context.Context, m *testenv.Manager) error {
		cfg.Controller = m.ControllerOptions()
		return Setup(ctx, m, cfg)
	})
	// StartManager's cleanup reports the manager's error.
	return func() { _ = m.Stop() }
}

// eventually polls cond until it returns true, failing with its last message.
func (h *harness) eventually(what string, cond func() (bool, string)) {
	h.t.Helper()
	end := time.Now().Add(waitTimeout)
	last := ""
	for time.Now().Before(end) {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		time.Sleep(100 * time.Millisecond)
	}
	h.t.Fatalf("timed out waiting for %s: %s", what, last)
}

func (h *harness) workloadSet(name string, replicas int32, mutate func(*plinthv1.WorkloadSet)) *plinthv1.WorkloadSet {
	h.t.Helper()
	ws := &plinthv1.WorkloadSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns,
			Labels: map[string]string{plinthv1.LabelApplication: "app-" + name, plinthv1.LabelComponent: "redis"}},
		Spec: plinthv1.WorkloadSetSpec{
			Replicas:    replicas,
			ServiceName: name + "-headless",
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"from-template": "yes"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "redis", Image: "docker.io/library/redis:7.2"}}},
			},
			HeartbeatSeconds: 60,
		},
	}
	if mutate != nil {
		mutate(ws)
	}
	if err := h.c.Create(h.ctx, ws); err != nil {
		h.t.Fatalf("creating WorkloadSet %s: %v", name, err)
	}
	return ws
}

func withVolume(size string) func(*plinthv1.WorkloadSet) {
	return func(ws *plinthv1.WorkloadSet) {
		ws.Spec.VolumeClaimTemplates = append(ws.Spec.VolumeClaimTemplates, plinthv1.VolumeClaimTemplate{Name: "data", Size: resource.MustParse(size)})
	}
}

func (h *harness) get(name string) *plinthv1.WorkloadSet {
	h.t.Helper()
	ws := &plinthv1.WorkloadSet{}
	if err := h.c.Get(h.ctx, types.NamespacedName{Namespace: h.ns, Name: name}, ws); err != nil {
		h.t.Fatal(err)
	}
	return ws
}

// update re-reads the WorkloadSet and changes its spec, retrying conflicts.
func (h *harness) update(name string, mutate func(*plinthv1.WorkloadSet)) {
	h.t.Helper()
	for i := 0; ; i++ {
		ws := h.get(name)
		mutate(ws)
		err := h.c.Update(h.ctx, ws)
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) || i > 20 {
			h.t.Fatalf("updating %s: %v", name, err)
		}
	}
}

func (h *harness) pod(name string) (*corev1.Pod, bool) {
	h.t.Helper()
	pod := &corev1.Pod{}
	err := h.c.Get(h.ctx, types.NamespacedName{Namespace: h.ns, Name: name}, pod)
	if apierrors.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return pod, true
}

func (h *harness) pvc(name string) (*corev1.PersistentVolumeClaim, bool) {
	h.t.Helper()
	pvc := &corev1.PersistentVolumeClaim{}
	err := h.c.Get(h.ctx, types.NamespacedName{Namespace: h.ns, Name: name}, pvc)
	if apierrors.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return pvc, true
}

func (h *harness) pods(ws string) map[string]*corev1.Pod {
	h.t.Helper()
	var list corev1.PodList
	if err := h.c.List(h.ctx, &list, client.InNamespace(h.ns), client.MatchingLabels{plinthv1.LabelWorkloadSet: ws}); err != nil {
		h.t.Fatal(err)
	}
	out := map[string]*corev1.Pod{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out
}

// waitPod waits for a pod to exist and returns it.
func (h *harness) waitPod(name string) *corev1.Pod {
	h.t.Helper()
	var pod *corev1.Pod
	h.eventually("pod "+name, func() (bool, string) {
		p, ok := h.pod(name)
		pod = p
		return ok, "it does not exist"
	})
	return pod
}

// markReady plays kubelet: the pod is running and ready.
func (h *harness) markReady(name string) {
	h.t.Helper()
	pod := h.waitPod(name)
	patch := client.MergeFrom(pod.DeepCopy())
	pod.Status.Phase = corev1.PodRunning
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
	if err := h.c.Status().Patch(h.ctx, pod, patch); err != nil {
		h.t.Fatalf("marking %s ready: %v", name, err)
	}
}

// annotate plays the status agent: it writes raw as the pod's report.
func (h *harness) annotate(name, raw string) {
	h.t.Helper()
	pod := h.waitPod(name)
	patch := client.MergeFrom(pod.DeepCopy())
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[plinthv1.AnnotationStatusReport] = raw
	if err := h.c.Patch(h.ctx, pod, patch); err != nil {
		h.t.Fatalf("annotating %s: %v", name, err)
	}
}

// report writes a valid report for the pod.
func (h *harness) report(name, role string, healthy bool, ts time.Time, seq uint64) {
	h.t.Helper()
	data, err := (&statusreport.Report{Role: role, Healthy: healthy, Timestamp: ts, Sequence: seq}).Marshal()
	if err != nil {
		h.t.Fatal(err)
	}
	h.annotate(name, string(data))
}

// waitStatus waits until the WorkloadSet's status satisfies cond.
func (h *harness) waitStatus(name, what string, cond func(*plinthv1.WorkloadSet) bool) *plinthv1.WorkloadSet {
	h.t.Helper()
	var ws *plinthv1.WorkloadSet
	h.eventually(name+": "+what, func() (bool, string) {
		ws = h.get(name)
		return cond(ws), fmt.Sprintf("status %+v", ws.Status)
	})
	return ws
}

func member(ws *plinthv1.WorkloadSet, pod string) *plinthv1.MemberStatus {
	for i := range ws.Status.Members {
		if ws.Status.Members[i].Name == pod {
			return &ws.Status.Members[i]
		}
	}
	return nil
}

func condition(ws *plinthv1.WorkloadSet, typ string) *metav1.Condition {
	for i := range ws.Status.Conditions {
		if ws.Status.Conditions[i].Type == typ {
			return &ws.Status.Conditions[i]
		}
	}
	return nil
}

// storageClass is a cluster-scoped StorageClass a test creates and removes.
type storageClass struct {
	name  string
	allow *bool
}

func (s *storageClass) create(t *testing.T, h *harness) {
	t.Helper()
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: s.name}, Provisioner: "example.com/test", AllowVolumeExpansion: s.allow}
	if err := h.c.Create(h.ctx, sc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), sc) })
}

// bindPVC plays the storage side: the claim is bound with the given capacity.
func (h *harness) bindPVC(name, capacity string) {
	h.t.Helper()
	var pvc *corev1.PersistentVolumeClaim
	h.eventually("PVC "+name, func() (bool, string) {
		p, ok := h.pvc(name)
		pvc = p
		return ok, "it does not exist"
	})
	patch := client.MergeFrom(pvc.DeepCopy())
	pvc.Status.Phase = corev1.ClaimBound
	pvc.Status.AccessModes = pvc.Spec.AccessModes
	pvc.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(capacity)}
	if err := h.c.Status().Patch(h.ctx, pvc, patch); err != nil {
		h.t.Fatalf("binding %s: %v", name, err)
	}
}
