package operation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/agentclient"
	"github.com/plinth-io/plinth/internal/agentrun"
	"github.com/plinth-io/plinth/internal/conditions"
	"github.com/plinth-io/plinth/internal/skeleton"
	"github.com/plinth-io/plinth/internal/ssa"
	"github.com/plinth-io/plinth/pluginregistry"
	procmgrv1 "github.com/plinth-io/plinth/proto/gen/procmgr/v1"
)

// Requeue intervals.
const (
	// nextStep: the status holding the next thing to do was just written;
	// come back at once to do it (status-only updates do not enqueue).
	nextStep = 10 * time.Millisecond
	// pollWait: a wait step or a pod coming back after a restart.
	pollWait = 2 * time.Second
	// retryStep: a step failed in a way a retry may fix (an agent not
	// reachable, a conflict).
	retryStep = 5 * time.Second
	// queueRecheck: a queued Operation looks again even without an event.
	queueRecheck = 30 * time.Second
	// switchoverSettle: how long the roles may take to follow an issued
	// switchover before it is issued again.
	switchoverSettle = 30 * time.Second
	// topologySettle: after the designation reached every pod object, the
	// time the kubelet is given to refresh the pods' topology files
	// (downward API) before a later step may restart a process that reads
	// them.
	topologySettle = 5 * time.Second
)

// Plugins serves plugin versions.
type Plugins interface {
	Get(plugin, version string) (*pluginregistry.PluginVersion, error)
}

// Agents calls pods' ops agents and procmgrs over mutual TLS.
type Agents interface {
	agentrun.Executor
	Procmgr(ctx context.Context, pod agentclient.Pod) (procmgrv1.ProcessManagerServiceClient, func(), error)
}

// Reconciler runs Operations.
type Reconciler struct {
	client    client.Client
	apiReader client.Reader
	plugins   Plugins
	agents    Agents
	status    ssa.Applier
	recorder  events.EventRecorder
	platform  pluginregistry.PlatformRef
	retention Retention
	now       func() time.Time
	intents   intents
	pass      *skeleton.Controller[*plinthv1.Operation, *scope]
}

// scope is one pass's view of an Operation.
type scope struct {
	op     *plinthv1.Operation
	before plinthv1.OperationStatus
	log    logr.Logger
	now    time.Time
	// app is the target Application (nil once it is gone, after a Delete).
	app *plinthv1.Application
	// pv and rendered: the plugin version and the template rendered with
	// the Operation's parameters.
	pv       *pluginregistry.PluginVersion
	rendered *pluginregistry.RenderedOperation
	// deleted: the Operation was deleted by retention; no status write.
	deleted bool
}

// stepFailure is an error no retry of the step fixes: the step (and the
// Operation) fails with its message.
type stepFailure struct{ msg string }

func (e *stepFailure) Error() string { return e.msg }

func failf(format string, args ...any) error { return &stepFailure{msg: fmt.Sprintf(format, args...)} }

func isFailure(err error) bool {
	var f *stepFailure
	return errors.As(err, &f)
}

func (r *Reconciler) controller() *skeleton.Controller[*plinthv1.Operation, *scope] {
	return &skeleton.Controller[*plinthv1.Operation, *scope]{
		Client: r.client,
		New:    func() *plinthv1.Operation { return &plinthv1.Operation{} },
		Scope: func(ctx context.Context, op *plinthv1.Operation) (*scope, error) {
			return &scope{op: op, before: *op.Status.DeepCopy(), log: ctrl.LoggerFrom(ctx), now: r.now()}, nil
		},
		Phases: []skeleton.Phase[*scope]{
			{Name: "retention", Run: r.retain},
			{Name: "target", Run: r.target},
			{Name: "render", Run: r.render},
			{Name: "preflight", Run: r.preflight},
			{Name: "queue", Run: r.queue},
			{Name: "start", Run: r.start},
			{Name: "cancel", Run: r.cancel},
			{Name: "deadline", Run: r.deadline},
			{Name: "step", Run: r.step},
		},
		WriteStatus: r.writeStatus,
	}
}

// Reconcile runs one pass.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	return r.pass.Reconcile(ctx, req)
}

// started: the Operation left Pending (its plan is recorded).
func started(op *plinthv1.Operation) bool { return op.Status.StartTime != nil }

// target reads the target Application. Before the start a missing or
// unsupported target fails the Operation; after it (a Delete step removed
// it) the steps see no Application.
func (r *Reconciler) target(ctx context.Context, s *scope) (skeleton.Result, error) {
	ref := s.op.Spec.TargetRef
	if (ref.APIGroup != "" && ref.APIGroup != plinthv1.GroupVersion.Group) || (ref.Kind != "" && ref.Kind != "Application") {
		return r.fail(s, plinthv1.ReasonInvalidSpec, "targetRef %s/%s %q: the operation-controller runs templates on Applications only (apiGroup plinth.io, kind Application)", ref.APIGroup, ref.Kind, ref.Name)
	}
	app := &plinthv1.Application{}
	err := r.client.Get(ctx, client.ObjectKey{Namespace: s.op.Namespace, Name: ref.Name}, app)
	switch {
	case apierrors.IsNotFound(err):
		if started(s.op) {
			return skeleton.Result{}, nil
		}
		return r.fail(s, plinthv1.ReasonInvalidSpec, "the target Application %q does not exist in namespace %s (an Operation acts only on an Application in its own namespace)", ref.Name, s.op.Namespace)
	case err != nil:
		return skeleton.Result{}, fmt.Errorf("reading the target Application %s: %w", ref.Name, err)
	}
	s.app = app
	return skeleton.Result{}, nil
}

// render takes the template from the plugin version the Operation started
// with (or the target's pinned one) and renders it with the parameters.
func (r *Reconciler) render(_ context.Context, s *scope) (skeleton.Result, error) {
	plugin, version := "", s.op.Status.PluginVersion
	if s.app != nil {
		plugin = s.app.Spec.Plugin
		if version == "" {
			version = s.app.Spec.PluginVersion
		}
	}
	if plugin == "" {
		// Started, then the Application went away: only steps that need
		// no template are left to do, which cannot be told; finish.
		return r.finishSucceeded(s, "the target Application is gone")
	}
	pv, err := r.plugins.Get(plugin, version)
	if err != nil {
		if started(s.op) {
			return skeleton.Result{}, fmt.Errorf("plugin %s %s: %w", plugin, version, err)
		}
		return r.fail(s, plinthv1.ReasonPluginNotFound, "the target's plugin %s %s is not usable: %v", plugin, version, err)
	}
	ctx := pluginregistry.Context{
		Plugin:      pluginregistry.PluginRef{Name: pv.Name(), Version: pv.Version()},
		Application: pluginregistry.ObjectRef{Name: s.app.Name, Namespace: s.app.Namespace},
		Topology:    s.app.Spec.Topology,
		Version:     s.app.Spec.Version,
		Platform:    r.platform,
		Secrets:     pluginregistry.SecretsRef{Credentials: s.app.Name + "-credentials"},
	}
	ro, err := pluginregistry.RenderOperation(pv, s.op.Spec.TemplateRef, s.op.Spec.Parameters, ctx)
	if err != nil {
		return r.fail(s, plinthv1.ReasonInvalidParameters, "%v", err)
	}
	s.pv, s.rendered = pv, ro
	return skeleton.Result{}, nil
}

// fail ends an Operation that has not started with reason and message; one
// that runs fails its current step.
func (r *Reconciler) fail(s *scope, reason, format string, args ...any) (skeleton.Result, error) {
	msg := fmt.Sprintf(format, args...)
	st := &s.op.Status
	now := metav1.NewTime(s.now)
	if started(s.op) && int(st.CurrentStep) < len(st.Steps) {
		rec := &st.Steps[st.CurrentStep]
		if rec.Phase == plinthv1.StepRunning || rec.Phase == plinthv1.StepPending {
			rec.Phase, rec.CompletionTime, rec.Message = plinthv1.StepFailed, &now, truncate(msg, 2048)
		}
	}
	skipRest(st)
	st.Phase, st.CompletionTime, st.Error, st.QueuePosition = plinthv1.OperationFailed, &now, truncate(msg, 2048), 0
	conditions.MarkFalse(&st.Conditions, s.op.Generation, plinthv1.ConditionSucceeded, reason, truncate(msg, 32768))
	r.event(s, corev1.EventTypeWarning, plinthv1.EventReasonOperationFailed, "Fail", "%s failed: %s", s.op.Spec.TemplateRef, truncate(msg, 512))
	s.log.Info("the Operation failed", "template", s.op.Spec.TemplateRef, "reason", reason, "message", msg)
	return finishedPass(), nil
}

// finishedPass ends the pass that finished the Operation; the next one
// (after its status is written) applies retention.
func finishedPass() skeleton.Result {
	return skeleton.Result{Stop: true, Judged: true, RequeueAfter: nextStep}
}

// skipRest marks every step not run yet Skipped.
func skipRest(st *plinthv1.OperationStatus) {
	for i := range st.Steps {
		if st.Steps[i].Phase == plinthv1.StepPending || st.Steps[i].Phase == "" {
			st.Steps[i].Phase = plinthv1.StepSkipped
		}
	}
}

func (r *Reconciler) finishSucceeded(s *scope, msg string) (skeleton.Result, error) {
	st := &s.op.Status
	now := metav1.NewTime(s.now)
	skipRest(st)
	st.Phase, st.CompletionTime, st.QueuePosition = plinthv1.OperationSucceeded, &now, 0
	conditions.MarkTrue(&st.Conditions, s.op.Generation, plinthv1.ConditionSucceeded, plinthv1.ReasonCompleted, msg)
	r.event(s, corev1.EventTypeNormal, plinthv1.EventReasonOperationSucceeded, "Complete", "%s succeeded: %s", s.op.Spec.TemplateRef, msg)
	s.log.Info("the Operation succeeded", "template", s.op.Spec.TemplateRef, "took", s.now.Sub(startTime(s.op)).String())
	return finishedPass(), nil
}

func startTime(op *plinthv1.Operation) time.Time {
	if op.Status.StartTime != nil {
		return op.Status.StartTime.Time
	}
	return op.CreationTimestamp.Time
}

// event records an Event on the Operation and on its target.
func (r *Reconciler) event(s *scope, typ, reason, action, format string, args ...any) {
	if r.recorder == nil {
		return
	}
	if s.app == nil {
		r.recorder.Eventf(s.op, nil, typ, reason, action, format, args...)
		return
	}
	r.recorder.Eventf(s.op, s.app, typ, reason, action, format, args...)
	{
		r.recorder.Eventf(s.app, s.op, typ, reason, action, "Operation %s: "+format, append([]any{s.op.Name}, args...)...)
	}
}

// queue keeps the Operation Pending while others on its target run or were
// created before it.
func (r *Reconciler) queue(ctx context.Context, s *scope) (skeleton.Result, error) {
	if started(s.op) {
		return skeleton.Result{}, nil
	}
	var list plinthv1.OperationList
	if err := r.client.List(ctx, &list, client.InNamespace(s.op.Namespace), client.MatchingFields{targetIndex: s.op.Spec.TargetRef.Name}); err != nil {
		return skeleton.Result{}, fmt.Errorf("listing the Operations on %s: %w", s.op.Spec.TargetRef.Name, err)
	}
	n, first := queuePosition(s.op, list.Items)
	st := &s.op.Status
	if n == 0 {
		st.QueuePosition = 0
		return skeleton.Result{}, nil
	}
	st.Phase, st.QueuePosition = plinthv1.OperationPending, int32(n)
	conditions.MarkFalse(&st.Conditions, s.op.Generation, plinthv1.ConditionSucceeded, plinthv1.ReasonQueued,
		fmt.Sprintf("queued: %d Operation(s) on %s run first (next: %s)", n, s.op.Spec.TargetRef.Name, first))
	return skeleton.StopWaiting(queueRecheck), nil
}

// start records the plan (one record per step, Skipped where "when" is
// false) and moves the Operation to Running; the first step runs in the
// next pass, after this is persisted. A dry run records each step's plan
// and ends.
func (r *Reconciler) start(ctx context.Context, s *scope) (skeleton.Result, error) {
	if started(s.op) {
		return skeleton.Result{}, nil
	}
	st := &s.op.Status
	now := metav1.NewTime(s.now)
	st.StartTime, st.PluginVersion, st.CurrentStep, st.QueuePosition = &now, s.pv.Version(), 0, 0
	st.Steps = nil
	for i, step := range s.rendered.Steps {
		rec := plinthv1.StepStatus{Name: step.Name, Type: step.Type, Phase: plinthv1.StepPending}
		if s.rendered.Skip[i] {
			rec.Phase, rec.Message = plinthv1.StepSkipped, "skipped: its condition (when) is false"
		}
		st.Steps = append(st.Steps, rec)
	}
	if s.op.Spec.DryRun {
		if err := r.plan(ctx, s); err != nil {
			return r.fail(s, plinthv1.ReasonStepFailed, "dry run: %v", err)
		}
		st.Phase, st.CompletionTime = plinthv1.OperationSucceeded, &now
		conditions.MarkTrue(&st.Conditions, s.op.Generation, plinthv1.ConditionSucceeded, plinthv1.ReasonDryRun, "dry run: the plan is in status.steps; nothing was changed")
		r.event(s, corev1.EventTypeNormal, plinthv1.EventReasonOperationSucceeded, "Plan", "%s dry run: %d steps planned, nothing changed", s.op.Spec.TemplateRef, len(st.Steps))
		return finishedPass(), nil
	}
	st.Phase = plinthv1.OperationRunning
	conditions.MarkUnknown(&st.Conditions, s.op.Generation, plinthv1.ConditionSucceeded, plinthv1.ReasonRunning, "running")
	// The first step is marked Running in the same write: it runs in the
	// next pass, after this is persisted.
	beginNext(s)
	r.event(s, corev1.EventTypeNormal, plinthv1.EventReasonOperationStarted, "Start", "%s started (plugin %s %s, %d steps)", s.op.Spec.TemplateRef, s.pv.Name(), s.pv.Version(), len(st.Steps))
	s.log.Info("starting the Operation", "template", s.op.Spec.TemplateRef, "steps", len(st.Steps), "pluginVersion", s.pv.Version())
	return skeleton.StopWaiting(nextStep), nil
}

// cancel ends a running Operation whose spec.cancel is set: the running
// step stops where it is (a pod call in flight is not interrupted; steps
// are checked between calls and polls).
func (r *Reconciler) cancel(_ context.Context, s *scope) (skeleton.Result, error) {
	if !s.op.Spec.Cancel {
		return skeleton.Result{}, nil
	}
	st := &s.op.Status
	now := metav1.NewTime(s.now)
	done := 0
	for i := range st.Steps {
		rec := &st.Steps[i]
		switch rec.Phase {
		case plinthv1.StepSucceeded:
			done++
		case plinthv1.StepRunning:
			rec.Phase, rec.CompletionTime, rec.Message = plinthv1.StepFailed, &now, truncate("cancelled while running; "+rec.Message, 2048)
		}
	}
	skipRest(st)
	st.Phase, st.CompletionTime, st.QueuePosition = plinthv1.OperationCancelled, &now, 0
	msg := fmt.Sprintf("cancelled after %d of %d steps", done, len(st.Steps))
	conditions.MarkFalse(&st.Conditions, s.op.Generation, plinthv1.ConditionSucceeded, plinthv1.ReasonCancelled, msg)
	r.event(s, corev1.EventTypeNormal, plinthv1.EventReasonOperationCancelled, "Cancel", "%s %s", s.op.Spec.TemplateRef, msg)
	return finishedPass(), nil
}

// deadline fails an Operation past its timeout (spec.timeoutSeconds, else
// the template's timeout).
func (r *Reconciler) deadline(_ context.Context, s *scope) (skeleton.Result, error) {
	limit := time.Duration(0)
	if t := s.op.Spec.TimeoutSeconds; t != nil {
		limit = time.Duration(*t) * time.Second
	} else if tmpl := s.pv.OperationTemplate(s.op.Spec.TemplateRef); tmpl != nil && tmpl.Timeout != "" {
		limit, _ = time.ParseDuration(tmpl.Timeout)
	}
	if limit <= 0 {
		return skeleton.Result{}, nil
	}
	if left := limit - s.now.Sub(startTime(s.op)); left <= 0 {
		return r.fail(s, plinthv1.ReasonTimedOut, "the Operation ran past its timeout of %s", limit)
	}
	return skeleton.Result{}, nil
}

// writeStatus applies the status when it changed.
func (r *Reconciler) writeStatus(ctx context.Context, s *scope, o skeleton.Outcome) error {
	if s.deleted {
		return nil
	}
	st := &s.op.Status
	skeleton.Observe(o, s.op.Generation, &st.ObservedGeneration, &st.Conditions)
	if equality.Semantic.DeepEqual(*st, s.before) {
		return nil
	}
	return r.status.ApplyStatus(ctx, s.op, st)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
