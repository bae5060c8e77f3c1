package skeleton

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

type rec struct{ ran []string }

func phase(name string, res Result, err error) Phase[*rec] {
	return Phase[*rec]{Name: name, Run: func(_ context.Context, r *rec) (Result, error) {
		r.ran = append(r.ran, name)
		return res, err
	}}
}

func TestRun(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name      string
		phases    []Phase[*rec]
		ran       int
		complete  bool
		requeue   time.Duration
		stoppedAt string
		err       error
	}{
		{name: "every phase runs: complete", phases: []Phase[*rec]{phase("a", Result{}, nil), phase("b", Result{}, nil)}, ran: 2, complete: true},
		{name: "shortest requeue wins", phases: []Phase[*rec]{phase("a", Requeue(time.Minute), nil), phase("b", Requeue(time.Second), nil), phase("c", Requeue(time.Hour), nil)}, ran: 3, complete: true, requeue: time.Second},
		{name: "an error ends the pass incomplete", phases: []Phase[*rec]{phase("a", Requeue(time.Second), nil), phase("b", Result{}, boom), phase("c", Result{}, nil)}, ran: 2, requeue: time.Second, stoppedAt: "b", err: boom},
		{name: "a terminal error too", phases: []Phase[*rec]{phase("a", Result{}, reconcile.TerminalError(boom)), phase("b", Result{}, nil)}, ran: 1, stoppedAt: "a", err: boom},
		{name: "stop while waiting is incomplete", phases: []Phase[*rec]{phase("a", StopWaiting(5*time.Second), nil), phase("b", Result{}, nil)}, ran: 1, requeue: 5 * time.Second, stoppedAt: "a"},
		{name: "an invalid spec is a verdict: complete, terminal", phases: []Phase[*rec]{{Name: "validate", Run: func(context.Context, *rec) (Result, error) { return Invalid(boom) }}, phase("b", Result{}, nil)}, ran: 0, complete: true, stoppedAt: "validate", err: boom},
		{name: "a judged stop with a retryable error is incomplete", phases: []Phase[*rec]{phase("a", StopJudged(), boom)}, ran: 1, stoppedAt: "a", err: boom},
		{name: "stop with a verdict is complete", phases: []Phase[*rec]{phase("a", StopJudged(), nil), phase("b", Result{}, nil)}, ran: 1, complete: true, stoppedAt: "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &rec{}
			o := Run(context.Background(), r, tc.phases)
			if len(r.ran) != tc.ran || o.Complete != tc.complete || o.RequeueAfter != tc.requeue || o.StoppedAt != tc.stoppedAt {
				t.Fatalf("ran %v, outcome %+v; want %d phases, complete %v, requeue %s, stopped at %q", r.ran, o, tc.ran, tc.complete, tc.requeue, tc.stoppedAt)
			}
			if (tc.err == nil) != (o.Err == nil) || (tc.err != nil && !errors.Is(o.Err, tc.err)) {
				t.Fatalf("error %v, want %v", o.Err, tc.err)
			}
		})
	}
}

func TestRunKeepsTerminalErrors(t *testing.T) {
	o := Run(context.Background(), &rec{}, []Phase[*rec]{phase("validate", Result{}, reconcile.TerminalError(errors.New("bad spec")))})
	if !errors.Is(o.Err, reconcile.TerminalError(nil)) {
		t.Fatalf("%v is no longer a terminal error", o.Err)
	}
}

func TestRunSaysWhenTheDeadlinePassed(t *testing.T) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	o := Run(ctx, &rec{}, []Phase[*rec]{{Name: "call", Run: func(ctx context.Context, _ *rec) (Result, error) { return Result{}, ctx.Err() }}})
	if !errors.Is(o.Err, context.DeadlineExceeded) || !strings.Contains(o.Err.Error(), "--reconcile-timeout") {
		t.Fatalf("error %v does not name the reconcile deadline", o.Err)
	}
}

func TestIgnoreStatusOnly(t *testing.T) {
	base := func() *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", Generation: 1, ResourceVersion: "1", Labels: map[string]string{"a": "b"}}}
	}
	p := IgnoreStatusOnly()
	for _, tc := range []struct {
		name   string
		change func(*corev1.ConfigMap)
		want   bool
	}{
		{"status only (resourceVersion moves)", func(o *corev1.ConfigMap) { o.ResourceVersion = "2" }, false},
		{"generation", func(o *corev1.ConfigMap) { o.Generation = 2 }, true},
		{"deletion", func(o *corev1.ConfigMap) { now := metav1.Now(); o.DeletionTimestamp = &now }, true},
		{"finalizer", func(o *corev1.ConfigMap) { o.Finalizers = []string{"f"} }, true},
		{"label", func(o *corev1.ConfigMap) { o.Labels["a"] = "c" }, true},
		{"annotation", func(o *corev1.ConfigMap) { o.Annotations = map[string]string{"k": "v"} }, true},
		{"owner", func(o *corev1.ConfigMap) { o.OwnerReferences = []metav1.OwnerReference{{UID: "u"}} }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := base()
			tc.change(n)
			if got := p.Update(event.UpdateEvent{ObjectOld: base(), ObjectNew: n}); got != tc.want {
				t.Fatalf("Update = %v, want %v", got, tc.want)
			}
		})
	}
}
