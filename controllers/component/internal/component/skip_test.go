package component_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/naming"
	"github.com/plinth-io/plinth/internal/ssa"
)

// writes records every write the controller sends to the API server.
var writes = &writeLog{}

// writeLog records the controller's writes (every request but GET) as
// "METHOD path".
type writeLog struct {
	mu  sync.Mutex
	log []string
}

func (w *writeLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		if req.Method != http.MethodGet {
			w.mu.Lock()
			w.log = append(w.log, req.Method+" "+req.URL.Path)
			w.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

// since returns the writes after the first n whose path contains part, and the
// count of all writes.
func (w *writeLog) since(n int, part string) (matching []string, total int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.log[n:] {
		if _, path, _ := strings.Cut(l, " "); strings.Contains(path, part) {
			matching = append(matching, l)
		}
	}
	return matching, len(w.log)
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// reconciles is how many Component reconciles have finished.
func reconciles(t *testing.T) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if labelOf(m, "controller") == "component" {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// quiet waits until the controller has written nothing in namespace ns for
// two seconds, and returns the count of its writes so far.
func quiet(t *testing.T, ns string) int {
	t.Helper()
	_, n := writes.since(0, "")
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); {
		time.Sleep(2 * time.Second)
		got, total := writes.since(n, "/namespaces/"+ns+"/")
		if len(got) == 0 {
			return total
		}
		n = total
	}
	t.Fatalf("the controller kept writing in %s", ns)
	return 0
}

// A reconcile of a Component whose children are as it wants them writes
// nothing: every apply is skipped on the cached copy.
func TestReconcileOfAnUnchangedComponentWritesNothing(t *testing.T) {
	ns := namespace(t)
	comp := newComponent(t, ns, "steady", "standalone", "redis", nil)
	ws := &plinthv1.WorkloadSet{}
	eventually(t, "WorkloadSet", func() error { return get(t, ns, comp.Name, ws) })
	if ws.Annotations[ssa.AnnotationDesiredHash] == "" {
		t.Errorf("WorkloadSet has no %s annotation: %v", ssa.AnnotationDesiredHash, ws.Annotations)
	}
	n := quiet(t, ns)
	before := reconciles(t)
	for i := range 3 {
		patch := fmt.Sprintf(`{"metadata":{"annotations":{"test.plinth.io/poke":"%d"}}}`, i)
		if err := env.Client.Patch(ctxT(t), comp, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	eventually(t, "reconciles after the pokes", func() error {
		if got := reconciles(t); got < before+1 {
			return fmt.Errorf("%v reconciles, want more than %v", got, before)
		}
		return nil
	})
	time.Sleep(time.Second)
	if got, _ := writes.since(n, "/namespaces/"+ns+"/"); len(got) != 0 {
		t.Errorf("reconciles of an unchanged Component wrote %v", got)
	}
}

// A child someone else changed is put back: its informer enqueues the
// Component and the cached copy no longer matches.
func TestChildrenChangedBySomeoneElseAreRepaired(t *testing.T) {
	ns := namespace(t)
	comp := newComponent(t, ns, "tampered", "standalone", "redis", nil)
	ws := &plinthv1.WorkloadSet{}
	eventually(t, "WorkloadSet", func() error { return get(t, ns, comp.Name, ws) })
	quiet(t, ns)

	cm := &corev1.ConfigMap{}
	if err := get(t, ns, naming.ConfigMap(comp.Name), cm); err != nil {
		t.Fatal(err)
	}
	conf := cm.Data["redis.conf"]
	svc := &corev1.Service{}
	if err := get(t, ns, naming.ClientService(comp.Name), svc); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		obj   client.Object
		patch string
	}{
		{cm, `{"data":{"redis.conf":"tampered"}}`},
		{svc, `{"metadata":{"labels":{"` + plinthv1.LabelComponent + `":null}}}`},
		{ws, `{"spec":{"replicas":3}}`},
	} {
		if err := env.Client.Patch(ctxT(t), c.obj, client.RawPatch(types.MergePatchType, []byte(c.patch)), client.FieldOwner("someone-else")); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "ConfigMap repaired", func() error {
		if err := get(t, ns, cm.Name, cm); err != nil {
			return err
		}
		if cm.Data["redis.conf"] != conf {
			return fmt.Errorf("redis.conf = %q", cm.Data["redis.conf"])
		}
		return nil
	})
	eventually(t, "Service label repaired", func() error {
		if err := get(t, ns, svc.Name, svc); err != nil {
			return err
		}
		if svc.Labels[plinthv1.LabelComponent] != comp.Name {
			return fmt.Errorf("labels = %v", svc.Labels)
		}
		return nil
	})
	eventually(t, "WorkloadSet repaired", func() error {
		if err := get(t, ns, ws.Name, ws); err != nil {
			return err
		}
		if ws.Spec.Replicas != 1 {
			return fmt.Errorf("replicas = %d", ws.Spec.Replicas)
		}
		return nil
	})
}
