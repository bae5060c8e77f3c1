package operation_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/conditions"
)

// A patch step changes one component's resources and nothing else: the
// other component and the other fields of the same component are as they
// were; the wait step does not take the Ready condition written for the
// generation before the patch as done.
func TestVerticalScaleChangesOnlyWhatItNames(t *testing.T) {
	ns := namespace(t)
	app := sentinelApp(t, ns, "two", "v1.2.0")
	markReady(t, app) // Ready at generation 1: must not satisfy the wait
	startController(t, ns)
	before := getApp(t, app)
	newOperation(t, ns, "scale-sentinel", app.Name, "VerticalScaleResource", map[string]string{"component": "sentinel", "cpu": "200m", "memory": "128Mi"})

	waitOp(t, ns, "scale-sentinel", "the patch done and the wait running", func(op *plinthv1.Operation) bool {
		return stepPhase(op, "patch-resources") == plinthv1.StepSucceeded && stepPhase(op, "wait-rolled") == plinthv1.StepRunning
	})
	after := getApp(t, app)
	if after.Generation != before.Generation+1 {
		t.Fatalf("generation %d -> %d, want one change", before.Generation, after.Generation)
	}
	redis, sentinel := after.Spec.Components[0], after.Spec.Components[1]
	if redis.Name != "redis" || !redis.Resources.Requests.Cpu().Equal(resource.MustParse("100m")) || redis.Parameters["maxmemory"] != "0" || *redis.Replicas != 3 || redis.Storage == nil {
		t.Fatalf("the redis component changed: %+v", redis)
	}
	if sentinel.Name != "sentinel" || !sentinel.Resources.Requests.Cpu().Equal(resource.MustParse("200m")) ||
		!sentinel.Resources.Requests.Memory().Equal(resource.MustParse("128Mi")) || !sentinel.Resources.Limits.Memory().Equal(resource.MustParse("128Mi")) || *sentinel.Replicas != 3 {
		t.Fatalf("the sentinel component: %+v", sentinel)
	}
	if after.Spec.Version != before.Spec.Version || after.Spec.Topology != before.Spec.Topology {
		t.Fatalf("other fields changed: %+v", after.Spec)
	}

	markReady(t, after)
	op := waitOp(t, ns, "scale-sentinel", "Succeeded", phaseIs(plinthv1.OperationSucceeded))
	if c := conditions.Get(op.Status.Conditions, plinthv1.ConditionSucceeded); c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("Succeeded condition: %+v", c)
	}
	for _, s := range op.Status.Steps {
		if s.Phase != plinthv1.StepSucceeded || s.StartTime == nil || s.CompletionTime == nil || s.Attempts < 1 {
			t.Fatalf("step record %+v", s)
		}
	}
	if op.Status.PluginVersion != "v1.2.0" || op.Status.StartTime == nil || op.Status.CompletionTime == nil {
		t.Fatalf("status %+v", op.Status)
	}
}

// Bad Operations end Failed before any step, with a message naming the
// problem, and change nothing.
func TestBadOperationsFailBeforeAnyStep(t *testing.T) {
	ns, other := namespace(t), namespace(t)
	app := sentinelApp(t, ns, "target", testVersion)
	victim := sentinelApp(t, ns, "victim", "v1.2.0")
	elsewhere := sentinelApp(t, other, "elsewhere", "v1.2.0")
	unowned := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "someone-elses", Namespace: ns}, Data: map[string]string{"keep": "me"}}
	if err := env.Client.Create(context.Background(), unowned); err != nil {
		t.Fatal(err)
	}
	startController(t, ns)
	cases := []struct {
		name, target, template string
		params                 map[string]string
		want                   string
	}{
		{"unknown-template", app.Name, "Explode", nil, `no operation template "Explode"`},
		{"bad-parameter", app.Name, "HorizontalScale", map[string]string{"replicas": "99"}, "replicas"},
		{"unknown-parameter", app.Name, "HorizontalScale", map[string]string{"replicas": "2", "replica": "3"}, "replica"},
		{"missing-target", "nothing-here", "Restart", nil, `the target Application "nothing-here" does not exist in namespace ` + ns},
		{"target-in-another-namespace", elsewhere.Name, "Restart", nil, `the target Application "elsewhere" does not exist in namespace ` + ns},
		{"patches-another-application", app.Name, "EscapePatch", map[string]string{"other": victim.Name}, `may change only the target Application target, not Application "victim"`},
		{"writes-another-namespace", app.Name, "EscapeNamespace", map[string]string{"ns": other}, "a step acts only in its Operation's namespace"},
		{"overwrites-what-it-does-not-own", app.Name, "EscapeUnowned", map[string]string{"name": unowned.Name}, "does not belong to Application target"},
		{"writes-a-secret", app.Name, "EscapeSecret", nil, "not on Secret"},
		{"downgrade", app.Name, "UpgradePaaS", map[string]string{"version": "7.0"}, "cannot downgrade middleware from 7.2 to 7.0"},
		{"plugin-version-not-served", app.Name, "UpgradeApp", map[string]string{"pluginVersion": "v9.0.0"}, "plugin version v9.0.0 is not usable"},
	}
	for _, tc := range cases {
		newOperation(t, ns, tc.name, tc.target, tc.template, tc.params)
	}
	for _, tc := range cases {
		op := waitOp(t, ns, tc.name, "Failed", phaseIs(plinthv1.OperationFailed))
		if !strings.Contains(op.Status.Error, tc.want) {
			t.Errorf("%s: error %q does not say %q", tc.name, op.Status.Error, tc.want)
		}
		if op.Status.StartTime != nil || len(op.Status.Steps) != 0 {
			t.Errorf("%s: a step ran: %+v", tc.name, op.Status)
		}
	}
	if v := getApp(t, victim); v.Generation != 1 || v.Spec.Stopped {
		t.Fatalf("the other Application changed: generation %d, stopped %t", v.Generation, v.Spec.Stopped)
	}
	if a := getApp(t, app); a.Generation != 1 {
		t.Fatalf("the target changed: generation %d", a.Generation)
	}
	err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: other, Name: "planted"}, &corev1.ConfigMap{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("a ConfigMap was planted in namespace %s: %v", other, err)
	}
	cm := &corev1.ConfigMap{}
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(unowned), cm); err != nil || cm.Data["keep"] != "me" || cm.Data["a"] != "" {
		t.Fatalf("the unowned ConfigMap changed: %v %+v", err, cm.Data)
	}
}

// Operations on one target run one at a time in creation order (the
// second says it is queued); a dry run records its plan and changes
// nothing; a cancelled Operation ends Cancelled with what was done
// recorded, and the next one starts.
func TestQueueDryRunAndCancel(t *testing.T) {
	ns := namespace(t)
	app := sentinelApp(t, ns, "q", "v1.2.0")
	startController(t, ns)
	newOperation(t, ns, "first", app.Name, "HorizontalScale", map[string]string{"component": "redis", "replicas": "4"})
	waitOp(t, ns, "first", "waiting for Ready", func(op *plinthv1.Operation) bool { return stepPhase(op, "wait-scaled") == plinthv1.StepRunning })
	newOperation(t, ns, "second", app.Name, "VerticalScaleResource", map[string]string{"component": "redis", "cpu": "300m", "memory": "1Gi"})
	newOperation(t, ns, "z-plan", app.Name, "VerticalScaleResource", map[string]string{"component": "sentinel", "cpu": "1", "memory": "1Gi"}, func(op *plinthv1.Operation) { op.Spec.DryRun = true })
	second := waitOp(t, ns, "second", "queued behind first", func(op *plinthv1.Operation) bool {
		return op.Status.Phase == plinthv1.OperationPending && op.Status.QueuePosition == 1
	})
	if c := conditions.Get(second.Status.Conditions, plinthv1.ConditionSucceeded); c == nil || c.Reason != plinthv1.ReasonQueued || !strings.Contains(c.Message, "first") {
		t.Fatalf("the queued Operation's condition: %+v", c)
	}
	waitOp(t, ns, "z-plan", "queued second in line", func(op *plinthv1.Operation) bool { return op.Status.QueuePosition == 2 })
	generation := getApp(t, app).Generation

	// Cancel the first while it waits.
	first := &plinthv1.Operation{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "first"}, first); err != nil {
		t.Fatal(err)
	}
	first.Spec.Cancel = true
	if err := env.Client.Update(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	first = waitOp(t, ns, "first", "Cancelled", phaseIs(plinthv1.OperationCancelled))
	if stepPhase(first, "patch-replicas") != plinthv1.StepSucceeded || stepPhase(first, "wait-scaled") != plinthv1.StepFailed {
		t.Fatalf("the cancelled Operation's steps: %+v", first.Status.Steps)
	}
	second = waitOp(t, ns, "second", "running after first", func(op *plinthv1.Operation) bool { return op.Status.StartTime != nil })
	if second.Status.StartTime.Before(first.Status.CompletionTime) {
		t.Fatalf("second started at %s, before first ended at %s", second.Status.StartTime, first.Status.CompletionTime)
	}
	markReadyWhenPatched(t, app, generation+1)
	waitOp(t, ns, "second", "Succeeded", phaseIs(plinthv1.OperationSucceeded))

	plan := waitOp(t, ns, "z-plan", "Succeeded", phaseIs(plinthv1.OperationSucceeded))
	if c := conditions.Get(plan.Status.Conditions, plinthv1.ConditionSucceeded); c == nil || c.Reason != plinthv1.ReasonDryRun {
		t.Fatalf("dry run condition: %+v", c)
	}
	if !strings.Contains(plan.Status.Steps[0].Message, "would patch Application q") {
		t.Fatalf("dry run plan: %+v", plan.Status.Steps)
	}
	after := getApp(t, app)
	if after.Generation != generation+1 || !after.Spec.Components[1].Resources.Requests.Cpu().Equal(resource.MustParse("50m")) {
		t.Fatalf("the dry run changed the Application: generation %d (want %d), sentinel %+v", after.Generation, generation+1, after.Spec.Components[1].Resources)
	}
}

// markReadyWhenPatched waits for generation gen, then marks it Ready.
func markReadyWhenPatched(t *testing.T, app *plinthv1.Application, gen int64) {
	t.Helper()
	for i := 0; i < 300; i++ {
		if getApp(t, app).Generation >= gen {
			markReady(t, app)
			return
		}
		sleep()
	}
	t.Fatalf("the Application never reached generation %d", gen)
}

// A controller stopped after a step finished resumes at the next step and
// does not run the finished one again: the patch is not re-applied over a
// later change.
func TestResumeDoesNotRepeatAFinishedStep(t *testing.T) {
	ns := namespace(t)
	app := sentinelApp(t, ns, "resume", "v1.2.0")
	m := startController(t, ns)
	newOperation(t, ns, "scale", app.Name, "HorizontalScale", map[string]string{"component": "redis", "replicas": "5"}, func(op *plinthv1.Operation) {
		zero := int32(0)
		op.Spec.TTLSecondsAfterFinished = &zero
	})
	waitOp(t, ns, "scale", "waiting", func(op *plinthv1.Operation) bool { return stepPhase(op, "wait-scaled") == plinthv1.StepRunning })
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	// Someone changes the replicas meanwhile; the finished patch step must
	// not put 5 back.
	cur := getApp(t, app)
	seven := int32(7)
	cur.Spec.Components[0].Replicas = &seven
	if err := env.Client.Update(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
	markReady(t, cur)
	startController(t, ns)
	// ttlSecondsAfterFinished 0: the Operation goes once it succeeded.
	for i := 0; ; i++ {
		op := &plinthv1.Operation{}
		err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "scale"}, op)
		if apierrors.IsNotFound(err) {
			break
		}
		if i > 300 {
			t.Fatalf("the finished Operation with ttlSecondsAfterFinished 0 was not deleted: %v; status %+v", err, op.Status)
		}
		sleep()
	}
	if got := *getApp(t, app).Spec.Components[0].Replicas; got != 7 {
		t.Fatalf("replicas %d: the finished patch step ran again", got)
	}
}

// Operations on different targets run in parallel: ten on ten targets are
// all running (waiting for their Applications) at the same time.
func TestOperationsOnTenTargetsOverlap(t *testing.T) {
	ns := namespace(t)
	startController(t, ns)
	for i := 0; i < 10; i++ {
		app := sentinelApp(t, ns, "app-"+string(rune('a'+i)), "v1.2.0")
		newOperation(t, ns, "scale-"+string(rune('a'+i)), app.Name, "HorizontalScale", map[string]string{"component": "redis", "replicas": "4"})
	}
	for i := 0; i < 10; i++ {
		waitOp(t, ns, "scale-"+string(rune('a'+i)), "waiting for its Application", func(op *plinthv1.Operation) bool {
			return op.Status.Phase == plinthv1.OperationRunning && stepPhase(op, "wait-scaled") == plinthv1.StepRunning
		})
	}
	var list plinthv1.OperationList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	running := 0
	for _, op := range list.Items {
		if op.Status.Phase == plinthv1.OperationRunning {
			running++
		}
	}
	if running != 10 {
		t.Fatalf("%d of 10 Operations on 10 targets run at the same time", running)
	}
}
