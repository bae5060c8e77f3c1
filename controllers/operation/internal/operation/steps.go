package operation

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/conditions"
	"github.com/plinth-io/plinth/internal/skeleton"
	"github.com/plinth-io/plinth/pluginregistry"
)

// step runs the current step: a Pending step is marked Running (and
// persisted) first; a Running one is run again until it is done (every step
// type is idempotent, and pod calls are recorded before they are made).
func (r *Reconciler) step(ctx context.Context, s *scope) (skeleton.Result, error) {
	st := &s.op.Status
	skipFinished(st)
	if int(st.CurrentStep) >= len(st.Steps) {
		return r.finishSucceeded(s, fmt.Sprintf("%d steps done", len(st.Steps)))
	}
	i := int(st.CurrentStep)
	rec, step := &st.Steps[i], s.rendered.Steps[i]
	if rec.Name != step.Name {
		return r.fail(s, plinthv1.ReasonStepFailed, "step %d is %q in the status but %q in template %s of plugin version %s", i, rec.Name, step.Name, s.op.Spec.TemplateRef, st.PluginVersion)
	}
	now := metav1.NewTime(s.now)
	if rec.Phase != plinthv1.StepRunning {
		beginNext(s)
		return skeleton.StopWaiting(nextStep), nil
	}
	if limit, err := time.ParseDuration(step.Timeout); err == nil && limit > 0 && rec.StartTime != nil && s.now.Sub(rec.StartTime.Time) > limit {
		return r.failStep(s, plinthv1.ReasonTimedOut, "step %s ran past its timeout of %s (last: %s)", step.Name, limit, rec.Message)
	}
	done, after, err := r.run(ctx, s, step, rec)
	switch {
	case err != nil && isFailure(err):
		return r.failStep(s, plinthv1.ReasonStepFailed, "step %s: %v", step.Name, err)
	case err != nil:
		rec.Attempts++
		rec.Message = truncate("will retry: "+err.Error(), 2048)
		s.log.Info("a step will be retried", "step", step.Name, "error", err.Error())
		return skeleton.StopWaiting(retryStep), nil
	case !done:
		return skeleton.StopWaiting(after), nil
	}
	rec.Phase, rec.CompletionTime = plinthv1.StepSucceeded, &now
	st.CurrentStep++
	if r.recorder != nil && s.app != nil {
		r.recorder.Eventf(s.op, s.app, corev1.EventTypeNormal, plinthv1.EventReasonOperationStep, "Step", "step %s (%s) succeeded: %s", step.Name, step.Type, truncate(rec.Message, 512))
	}
	// The next step is marked Running in the same write as this one's
	// end: it runs in the next pass, after this is persisted.
	beginNext(s)
	return skeleton.StopWaiting(nextStep), nil
}

// beginNext moves status.currentStep past finished and skipped steps and
// marks the step it lands on Running (start time, one more attempt). The
// caller's status write persists it before the step runs, in a later pass.
func beginNext(s *scope) {
	st := &s.op.Status
	skipFinished(st)
	if int(st.CurrentStep) >= len(st.Steps) {
		return
	}
	rec := &st.Steps[st.CurrentStep]
	if rec.Phase == plinthv1.StepRunning {
		return
	}
	now := metav1.NewTime(s.now)
	rec.Phase, rec.StartTime, rec.Attempts = plinthv1.StepRunning, &now, rec.Attempts+1
	s.log.Info("running a step", "step", rec.Name, "type", rec.Type, "index", st.CurrentStep)
}

// failStep fails the running step and the Operation.
func (r *Reconciler) failStep(s *scope, reason, format string, args ...any) (skeleton.Result, error) {
	return r.fail(s, reason, format, args...)
}

// run does one step's work; done reports it finished, after when to look
// again if not.
func (r *Reconciler) run(ctx context.Context, s *scope, step pluginregistry.Step, rec *plinthv1.StepStatus) (bool, time.Duration, error) {
	switch step.Type {
	case pluginregistry.StepPatch:
		return r.runPatch(ctx, s, step.Patch, rec)
	case pluginregistry.StepResource:
		return r.runResource(ctx, s, step.Resource, rec)
	case pluginregistry.StepWait:
		return r.runWait(ctx, s, step.Wait, rec)
	case pluginregistry.StepGRPC:
		return r.runGRPC(ctx, s, step, rec)
	case pluginregistry.StepSwitchover:
		return r.runSwitchover(ctx, s, step.Switchover, rec)
	}
	return false, 0, failf("unknown step type %q", step.Type)
}

// ---- patch ----

// owned reads the Application, Component or WorkloadSet kind/name and
// checks that it is the target or belongs to it.
func (r *Reconciler) owned(ctx context.Context, s *scope, kind, name string) (client.Object, error) {
	if s.app == nil {
		return nil, failf("the target Application %s is gone", s.op.Spec.TargetRef.Name)
	}
	var obj client.Object
	switch kind {
	case "Application":
		if name != s.app.Name {
			return nil, failf("a step may change only the target Application %s, not Application %q", s.app.Name, name)
		}
		obj = &plinthv1.Application{}
	case "Component":
		obj = &plinthv1.Component{}
	case "WorkloadSet":
		obj = &plinthv1.WorkloadSet{}
	default:
		return nil, failf("patch steps change an Application, Component or WorkloadSet, not a %s", kind)
	}
	if err := r.client.Get(ctx, client.ObjectKey{Namespace: s.op.Namespace, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, failf("%s %q does not exist in namespace %s", kind, name, s.op.Namespace)
		}
		return nil, err
	}
	if kind != "Application" && obj.GetLabels()[plinthv1.LabelApplication] != s.app.Name {
		return nil, failf("%s %s belongs to Application %q, not to the target %s: a step may change only what its target owns", kind, name, obj.GetLabels()[plinthv1.LabelApplication], s.app.Name)
	}
	return obj, nil
}

// mergeDoc parses a patch step's merge document; only spec may be named.
func mergeDoc(text string) (map[string]any, error) {
	var merge map[string]any
	if err := yaml.Unmarshal([]byte(text), &merge); err != nil {
		return nil, failf("the merge document is not a YAML mapping: %v", err)
	}
	for k := range merge {
		if k != "spec" {
			return nil, failf("the merge document names %q: a patch step changes only spec", k)
		}
	}
	return merge, nil
}

// patchFor reads the object a patch step changes (checking that the target
// owns it) and computes the JSON patch.
func (r *Reconciler) patchFor(ctx context.Context, s *scope, p *pluginregistry.PatchStep) (client.Object, []byte, error) {
	obj, err := r.owned(ctx, s, p.Kind, p.Name)
	if err != nil {
		return nil, nil, err
	}
	merge, err := mergeDoc(p.Merge)
	if err != nil {
		return nil, nil, err
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, nil, err
	}
	tree, err := decodeJSON(raw)
	if err != nil {
		return nil, nil, err
	}
	ops, err := keyedPatch(tree, merge)
	if err != nil {
		return nil, nil, failf("%v", err)
	}
	body, err := json.Marshal(ops)
	return obj, body, err
}

func (r *Reconciler) runPatch(ctx context.Context, s *scope, p *pluginregistry.PatchStep, rec *plinthv1.StepStatus) (bool, time.Duration, error) {
	obj, body, err := r.patchFor(ctx, s, p)
	if err != nil {
		return false, 0, err
	}
	if err := r.client.Patch(ctx, obj, client.RawPatch(types.JSONPatchType, body), client.FieldOwner(r.status.FieldManager)); err != nil {
		if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err) {
			return false, 0, failf("the API server refused the change to %s %s: %v", p.Kind, p.Name, err)
		}
		return false, 0, fmt.Errorf("patching %s %s: %w", p.Kind, p.Name, err)
	}
	rec.Message = truncate(fmt.Sprintf("patched %s %s (now at generation %d): %s", p.Kind, p.Name, obj.GetGeneration(), oneLine(p.Merge)), 2048)
	return true, 0, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// ---- wait ----

// observedState reads what a wait step needs of kind/name.
func (r *Reconciler) observedState(ctx context.Context, ns, kind, name string) (gen, observed int64, phase string, conds []metav1.Condition, err error) {
	key := client.ObjectKey{Namespace: ns, Name: name}
	switch kind {
	case "Application":
		o := &plinthv1.Application{}
		err = r.client.Get(ctx, key, o)
		return o.Generation, o.Status.ObservedGeneration, string(o.Status.Phase), o.Status.Conditions, err
	case "Component":
		o := &plinthv1.Component{}
		err = r.client.Get(ctx, key, o)
		return o.Generation, o.Status.ObservedGeneration, string(o.Status.Phase), o.Status.Conditions, err
	case "WorkloadSet":
		o := &plinthv1.WorkloadSet{}
		err = r.client.Get(ctx, key, o)
		return o.Generation, o.Status.ObservedGeneration, string(o.Status.Phase), o.Status.Conditions, err
	case "Backup":
		o := &plinthv1.Backup{}
		err = r.client.Get(ctx, key, o)
		return o.Generation, o.Status.ObservedGeneration, string(o.Status.Phase), o.Status.Conditions, err
	}
	return 0, 0, "", nil, failf("wait steps read an Application, Component, WorkloadSet or Backup, not a %s", kind)
}

func (r *Reconciler) runWait(ctx context.Context, s *scope, w *pluginregistry.WaitStep, rec *plinthv1.StepStatus) (bool, time.Duration, error) {
	gen, observed, phase, conds, err := r.observedState(ctx, s.op.Namespace, w.Kind, w.Name)
	if apierrors.IsNotFound(err) {
		rec.Message = fmt.Sprintf("waiting for %s %s to exist", w.Kind, w.Name)
		return false, pollWait, nil
	}
	if err != nil {
		return false, 0, err
	}
	done, msg := waitSatisfied(w, gen, observed, phase, conds)
	rec.Message = truncate(msg, 2048)
	return done, pollWait, nil
}

// waitSatisfied judges a wait step on what the object reports: only a
// status written for its current generation counts.
func waitSatisfied(w *pluginregistry.WaitStep, gen, observed int64, phase string, conds []metav1.Condition) (bool, string) {
	what := fmt.Sprintf("%s %s", w.Kind, w.Name)
	if observed != gen {
		return false, fmt.Sprintf("waiting for %s to observe generation %d (its status is for %d)", what, gen, observed)
	}
	if w.Phase != "" {
		if phase == w.Phase {
			return true, fmt.Sprintf("%s is %s", what, phase)
		}
		return false, fmt.Sprintf("waiting for %s to be %s (it is %s)", what, w.Phase, phase)
	}
	want := w.Status
	if want == "" {
		want = string(metav1.ConditionTrue)
	}
	c := conditions.Get(conds, w.Condition)
	switch {
	case c == nil:
		return false, fmt.Sprintf("waiting for %s to report condition %s", what, w.Condition)
	case c.ObservedGeneration != 0 && c.ObservedGeneration != gen:
		return false, fmt.Sprintf("waiting for %s's condition %s for generation %d (it is for %d)", what, w.Condition, gen, c.ObservedGeneration)
	case string(c.Status) == want && (w.Reason == "" || c.Reason == w.Reason):
		return true, fmt.Sprintf("%s: %s=%s (%s)", what, c.Type, c.Status, c.Reason)
	}
	return false, fmt.Sprintf("waiting for %s: %s is %s (%s: %s), want %s%s", what, c.Type, c.Status, c.Reason, c.Message, want, map[bool]string{true: " with reason " + w.Reason, false: ""}[w.Reason != ""])
}

// skipFinished moves status.currentStep past the steps that succeeded or
// were skipped.
func skipFinished(st *plinthv1.OperationStatus) {
	for int(st.CurrentStep) < len(st.Steps) {
		if p := st.Steps[st.CurrentStep].Phase; p != plinthv1.StepSucceeded && p != plinthv1.StepSkipped {
			return
		}
		st.CurrentStep++
	}
}
