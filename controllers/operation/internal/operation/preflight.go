package operation

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/naming"
	"github.com/plinth-io/plinth/internal/skeleton"
	"github.com/plinth-io/plinth/pluginregistry"
)

// preflight checks, before an Operation starts, everything its steps will
// touch: each patch and resource step names only the target or what it
// owns, in the Operation's namespace; each pod selector names a component
// of the target; a named switchover candidate is a healthy replica. A
// problem fails the Operation before any step runs.
func (r *Reconciler) preflight(ctx context.Context, s *scope) (skeleton.Result, error) {
	if started(s.op) {
		return skeleton.Result{}, nil
	}
	for i, step := range s.rendered.Steps {
		if s.rendered.Skip[i] {
			continue
		}
		if err := r.check(ctx, s, step); err != nil {
			if !isFailure(err) {
				return skeleton.Result{}, fmt.Errorf("checking step %s: %w", step.Name, err)
			}
			return r.fail(s, plinthv1.ReasonInvalidSpec, "step %s: %v; nothing was changed", step.Name, err)
		}
	}
	return skeleton.Result{}, nil
}

func (r *Reconciler) check(ctx context.Context, s *scope, step pluginregistry.Step) error {
	switch step.Type {
	case pluginregistry.StepPatch:
		return r.checkPatch(ctx, s, step.Patch)
	case pluginregistry.StepResource:
		u, err := manifestOf(s, step.Resource)
		if err != nil {
			return err
		}
		_, err = r.existing(ctx, s, u)
		return err
	case pluginregistry.StepWait:
		if _, ok := plinthv1.WaitableConditions[step.Wait.Kind]; !ok {
			return failf("wait steps read an Application, Component, WorkloadSet or Backup, not a %s", step.Wait.Kind)
		}
	case pluginregistry.StepGRPC:
		return r.checkComponent(ctx, s, step.GRPC.Selector.Component)
	case pluginregistry.StepSwitchover:
		if err := r.checkComponent(ctx, s, step.Switchover.Component); err != nil {
			return err
		}
		if c := step.Switchover.Candidate; c != "" {
			ms, wss, err := r.members(ctx, s, step.Switchover.Component)
			if err != nil {
				return err
			}
			targets, err := planSwitchover(step.Switchover, ms, wss)
			if err != nil {
				return err
			}
			if err := checkCandidate(ms, targets[0].Name, c); err != nil {
				return failf("cannot switch over to %s: %v", c, err)
			}
		}
	}
	return nil
}

// checkComponent: the target has a Component for the plugin component def.
func (r *Reconciler) checkComponent(ctx context.Context, s *scope, def string) error {
	if _, err := r.owned(ctx, s, "Component", naming.Component(s.app.Name, def)); err != nil {
		return failf("component %q of Application %s (topology %s): %v", def, s.app.Name, s.app.Spec.Topology, err)
	}
	return nil
}

// plan records, for a dry run, what each step would do: the rendered step
// and the pods it would call, in order.
func (r *Reconciler) plan(ctx context.Context, s *scope) error {
	st := &s.op.Status
	for i, step := range s.rendered.Steps {
		rec := &st.Steps[i]
		if s.rendered.Skip[i] {
			continue
		}
		rec.Phase = plinthv1.StepSkipped
		switch step.Type {
		case pluginregistry.StepPatch:
			rec.Message = fmt.Sprintf("dry run: would patch %s %s with %s", step.Patch.Kind, step.Patch.Name, oneLine(step.Patch.Merge))
		case pluginregistry.StepResource:
			u, err := manifestOf(s, step.Resource)
			if err != nil {
				return err
			}
			rec.Message = fmt.Sprintf("dry run: would %s %s %s", step.Resource.Action, u.GetKind(), u.GetName())
		case pluginregistry.StepWait:
			what := "condition " + step.Wait.Condition
			if step.Wait.Phase != "" {
				what = "phase " + step.Wait.Phase
			}
			rec.Message = fmt.Sprintf("dry run: would wait up to %s for %s %s to report %s", step.Timeout, step.Wait.Kind, step.Wait.Name, what)
		case pluginregistry.StepGRPC:
			targets, err := r.planGRPC(ctx, s, step.GRPC, st.Steps[:i])
			if err != nil {
				return err
			}
			rec.Targets = targets
			var names []string
			for _, t := range targets {
				names = append(names, t.Name)
			}
			rec.Message = fmt.Sprintf("dry run: would call %s on %s (%s)", describeCall(step.GRPC), strings.Join(names, ", "), step.GRPC.Policy)
		case pluginregistry.StepSwitchover:
			ms, wss, err := r.members(ctx, s, step.Switchover.Component)
			if err != nil {
				return err
			}
			targets, err := planSwitchover(step.Switchover, ms, wss)
			if err != nil {
				return err
			}
			for j := range targets {
				if targets[j].Detail == "" {
					targets[j].Detail = switchoverCandidate(ms, targets[j].Name)
				}
			}
			rec.Targets = targets
			rec.Message = fmt.Sprintf("dry run: would switch over %d WorkloadSet(s) of component %s", len(targets), step.Switchover.Component)
		}
		rec.Message = truncate(rec.Message, 2048)
	}
	return nil
}

// checkPatch sends the patch as a server-side dry run (the API server's
// schema and rules judge it, nothing is stored) and, for the target
// Application, checks a change of plugin or middleware version the way the
// application-controller will: an upgrade the plugin does not allow fails
// the Operation now instead of leaving the Application refused half-way.
func (r *Reconciler) checkPatch(ctx context.Context, s *scope, p *pluginregistry.PatchStep) error {
	obj, body, err := r.patchFor(ctx, s, p)
	if err != nil {
		return err
	}
	if err := r.client.Patch(ctx, obj, client.RawPatch(types.JSONPatchType, body), client.DryRunAll, client.FieldOwner(r.status.FieldManager)); err != nil {
		if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err) {
			return failf("the API server would refuse the change to %s %s: %v", p.Kind, p.Name, err)
		}
		return err
	}
	app, ok := obj.(*plinthv1.Application)
	if !ok {
		return nil
	}
	if to := app.Spec.PluginVersion; to != s.app.Spec.PluginVersion {
		next, err := r.plugins.Get(app.Spec.Plugin, to)
		if err != nil {
			return failf("plugin version %s is not usable: %v", to, err)
		}
		if err := pluginregistry.CanUpgradePlugin(s.pv, next); err != nil {
			return failf("%v", err)
		}
	}
	if to := app.Spec.Version; to != s.app.Spec.Version {
		from := s.app.Status.Version
		if from == "" {
			from = s.app.Spec.Version
		}
		pv := s.pv
		if app.Spec.PluginVersion != s.app.Spec.PluginVersion {
			if pv, err = r.plugins.Get(app.Spec.Plugin, app.Spec.PluginVersion); err != nil {
				return failf("plugin version %s is not usable: %v", app.Spec.PluginVersion, err)
			}
		}
		if err := pluginregistry.CanUpgradeMiddleware(pv, from, to); err != nil {
			return failf("%v: the plugin does not upgrade %s to %s in place; move the data with the middleware's own tools instead (for example a dump of this Application restored into a new Application on %s)", err, from, to, to)
		}
	}
	return nil
}
