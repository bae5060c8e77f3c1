package component

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/conditions"
	"github.com/plinth-io/plinth/internal/naming"
	"github.com/plinth-io/plinth/internal/skeleton"
	"github.com/plinth-io/plinth/internal/ssa"
	"github.com/plinth-io/plinth/pluginregistry"
)

// Named requeue intervals.
const (
	// pluginRetry: the plugin version is missing or invalid; a ConfigMap
	// watch would be better, the registry notifies the application layer.
	pluginRetry = 30 * time.Second
	// certificateRecheck: look at certificate expiry at least this often.
	certificateRecheck = 12 * time.Hour
)

// Plugins is what the component-controller needs from the plugin registry.
type Plugins interface {
	Get(plugin, version string) (*pluginregistry.PluginVersion, error)
}

// Reconciler reconciles Components.
type Reconciler struct {
	Client   client.Client
	Plugins  Plugins
	Platform Platform
	// Agents runs bootstrap actions on pods' ops agents; nil means an
	// agentclient.Client reading certificates through Client.
	Agents Agents
	// Now is the clock (tests may pin it); nil means time.Now.
	Now func() time.Time
	// Recorder records Events on Components (events.k8s.io/v1); nil records
	// none.
	Recorder events.EventRecorder

	apply ssa.Applier
	// pass is the skeleton running the phases (see controller).
	pass        *skeleton.Controller[*plinthv1.Component, *scope]
	bootstrapMu sync.Mutex
	bootstrap   bootstrapTracker
}

// event records an Event on obj when there is a Recorder.
func (r *Reconciler) event(obj runtime.Object, eventType, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, eventType, reason, action, note, args...)
	}
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reconciler) log(ctx context.Context) logr.Logger { return log.FromContext(ctx) }

func (r *Reconciler) ownerRef(comp *plinthv1.Component) *metav1.OwnerReference {
	return metav1.NewControllerRef(comp, plinthv1.GroupVersion.WithKind("Component"))
}

// scope is one pass's state: what was read, what was decided and the status
// being built (written once, at the end).
type scope struct {
	comp   *plinthv1.Component
	status *plinthv1.ComponentStatus
	// skipStatus: the Component is being deleted; nothing is written.
	skipStatus bool
	in         *inputs
	// wss are the applied shard WorkloadSets, leaving those of shards that
	// no longer exist, existing the shard count there was before.
	wss, leaving []plinthv1.WorkloadSet
	existing     int32
	reshard      reshardOutcome
}

// controller is the component reconciler on the shared skeleton: it renders
// the Component's children and summarises its WorkloadSets, in phases run in
// this order.
func (r *Reconciler) controller() *skeleton.Controller[*plinthv1.Component, *scope] {
	return &skeleton.Controller[*plinthv1.Component, *scope]{
		Client: r.Client,
		New:    func() *plinthv1.Component { return &plinthv1.Component{} },
		Scope: func(_ context.Context, comp *plinthv1.Component) (*scope, error) {
			return &scope{comp: comp, status: comp.Status.DeepCopy()}, nil
		},
		Phases: []skeleton.Phase[*scope]{
			{Name: "deletion", Run: r.handleDeletion},
			{Name: "plugin", Run: r.resolvePlugin},
			{Name: "tls", Run: r.reconcileTLSPhase},
			{Name: "config", Run: r.reconcileConfig},
			{Name: "reload", Run: r.reconcileReloadPhase},
			{Name: "services", Run: r.reconcileServices},
			{Name: "agent-rbac", Run: r.reconcileAgentRBAC},
			{Name: "pdb", Run: r.reconcilePDB},
			{Name: "workloadsets", Run: r.reconcileWorkloadSets},
			{Name: "bootstrap", Run: r.reconcileBootstrapPhase},
			{Name: "reshard", Run: r.reconcileReshardPhase},
			{Name: "summary", Run: r.summarizePhase},
		},
		WriteStatus: r.writeStatus,
	}
}

// Reconcile runs one pass (see controller).
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	return r.pass.Reconcile(ctx, req)
}

// handleDeletion ends the pass of a Component being deleted: its children
// go with it through owner references.
func (r *Reconciler) handleDeletion(_ context.Context, s *scope) (skeleton.Result, error) {
	if s.comp.DeletionTimestamp.IsZero() {
		return skeleton.Result{}, nil
	}
	s.skipStatus = true
	return skeleton.StopJudged(), nil
}

// resolvePlugin finds the pinned plugin version and the component's
// definition in it.
func (r *Reconciler) resolvePlugin(ctx context.Context, s *scope) (skeleton.Result, error) {
	comp := s.comp
	pv, err := r.Plugins.Get(comp.Spec.Plugin, comp.Spec.PluginVersion)
	if err != nil {
		r.log(ctx).Info("plugin version not usable; waiting", "plugin", comp.Spec.Plugin, "pluginVersion", comp.Spec.PluginVersion, "reason", err.Error())
		conditions.MarkFalse(&s.status.Conditions, comp.Generation, plinthv1.ConditionReady, plinthv1.ReasonPluginNotFound, err.Error())
		s.status.Phase = plinthv1.ComponentFailed
		return skeleton.StopWaiting(pluginRetry), nil
	}
	in, err := newInputs(comp, pv, r.Platform)
	if err != nil {
		return r.renderFailed(s, err)
	}
	s.in = in
	r.log(ctx).V(1).Info("rendering component", "plugin", pv.Name(), "pluginVersion", pv.Version(), "componentDef", in.def.Name)
	return skeleton.Result{}, nil
}

func (r *Reconciler) reconcileTLSPhase(ctx context.Context, s *scope) (skeleton.Result, error) {
	recheck, err := r.reconcileTLS(ctx, s.in)
	if err != nil {
		return skeleton.Result{}, fmt.Errorf("agent TLS material: %w", err)
	}
	return skeleton.Requeue(recheck), nil
}

func (r *Reconciler) reconcileBootstrapPhase(ctx context.Context, s *scope) (skeleton.Result, error) {
	return skeleton.Requeue(r.reconcileBootstrap(ctx, s.in, s.wss, s.status)), nil
}

// reconcileReshardPhase moves slots between shards when their number
// changed, and deletes the WorkloadSets of removed shards once released.
func (r *Reconciler) reconcileReshardPhase(ctx context.Context, s *scope) (skeleton.Result, error) {
	s.reshard = r.reconcileReshard(ctx, s.in, append(slices.Clip(s.wss), s.leaving...), s.existing, s.status)
	if s.reshard.release {
		if err := r.deleteWorkloadSets(ctx, s.leaving); err != nil {
			return skeleton.Requeue(s.reshard.again), err
		}
		s.leaving = nil
	}
	return skeleton.Requeue(s.reshard.again), nil
}

func (r *Reconciler) summarizePhase(_ context.Context, s *scope) (skeleton.Result, error) {
	in := s.in
	wss := append(s.wss, s.leaving...)
	summarize(s.comp, wss, s.status, in.topo.Bootstrap != nil && !conditions.IsTrue(s.status.Conditions, plinthv1.ConditionBootstrapped), s.reshard.holding)
	recordRunningVersions(s.comp, wss, s.status)
	return skeleton.Result{}, nil
}

// writeStatus writes the status once, when it changed: observedGeneration
// moves only after a complete pass; a pass ended by an error that is not a
// verdict says so in Ready (reason ReconcileFailed), so the layer above sees
// the change is not done.
func (r *Reconciler) writeStatus(ctx context.Context, s *scope, o skeleton.Outcome) error {
	if s.skipStatus {
		return nil
	}
	skeleton.Observe(o, s.comp.Generation, &s.status.ObservedGeneration, &s.status.Conditions)
	if equality.Semantic.DeepEqual(&s.comp.Status, s.status) {
		return nil
	}
	if err := r.apply.ApplyStatus(ctx, s.comp, s.status); err != nil {
		return fmt.Errorf("writing status of component %s/%s: %w", s.comp.Namespace, s.comp.Name, err)
	}
	return nil
}

// renderError is a plugin or spec problem no retry will fix.
type renderError struct{ err error }

func (e *renderError) Error() string { return e.err.Error() }

// renderFailed reports a plugin or spec problem no retry will fix.
func (r *Reconciler) renderFailed(s *scope, err error) (skeleton.Result, error) {
	conditions.MarkFalse(&s.status.Conditions, s.comp.Generation, plinthv1.ConditionReady, plinthv1.ReasonRenderFailed, err.Error())
	s.status.Phase = plinthv1.ComponentFailed
	r.event(s.comp, corev1.EventTypeWarning, plinthv1.EventReasonSpecRefused, plinthv1.EventActionValidate, "%s: %s", plinthv1.ReasonRenderFailed, err.Error())
	return skeleton.Invalid(err)
}

// phaseError turns a renderError into the verdict renderFailed gives.
func (r *Reconciler) phaseError(s *scope, err error) (skeleton.Result, error) {
	var re *renderError
	if errors.As(err, &re) {
		return r.renderFailed(s, re.err)
	}
	return skeleton.Result{}, err
}

func (r *Reconciler) reconcileConfig(ctx context.Context, s *scope) (skeleton.Result, error) {
	return r.phaseError(s, r.reconcileConfigChildren(ctx, s.in))
}

func (r *Reconciler) reconcileConfigChildren(ctx context.Context, in *inputs) error {
	cm, err := desiredConfigMap(in)
	if err != nil {
		return &renderError{err}
	}
	rt, err := desiredRuntimeConfigMap(in)
	if err != nil {
		return &renderError{err}
	}
	for _, o := range []client.Object{cm, rt} {
		if _, err := r.apply.ApplyIfChanged(ctx, o, r.ownerRef(in.comp)); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reconciler) reconcileServices(ctx context.Context, s *scope) (skeleton.Result, error) {
	return r.phaseError(s, r.reconcileServicesChildren(ctx, s.in))
}

func (r *Reconciler) reconcileServicesChildren(ctx context.Context, in *inputs) error {
	svcs, omitted, err := desiredServices(in)
	if err != nil {
		return &renderError{err}
	}
	for _, s := range svcs {
		if _, err := r.apply.ApplyIfChanged(ctx, s, r.ownerRef(in.comp)); err != nil {
			return err
		}
	}
	// A Component made before such Services were left out may have one.
	for _, name := range omitted {
		if err := r.deleteOwned(ctx, in.comp, &corev1.Service{}, name); err != nil {
			return err
		}
	}
	return nil
}

// deleteOwned deletes the object called name, of obj's kind, when the cache
// holds it and comp controls it: one made since reaches the cache and
// reconciles the Component again.
func (r *Reconciler) deleteOwned(ctx context.Context, comp *plinthv1.Component, obj client.Object, name string) error {
	err := r.Client.Get(ctx, client.ObjectKey{Name: name, Namespace: comp.Namespace}, obj)
	if apierrors.IsNotFound(err) || (err == nil && !metav1.IsControlledBy(obj, comp)) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := r.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

func (r *Reconciler) reconcileAgentRBAC(ctx context.Context, s *scope) (skeleton.Result, error) {
	return r.phaseError(s, r.reconcileAgentRBACChildren(ctx, s.in))
}

func (r *Reconciler) reconcileAgentRBACChildren(ctx context.Context, in *inputs) error {
	sa, role, rb := desiredAgentRBAC(in)
	for _, o := range []client.Object{sa, role, rb} {
		if _, err := r.apply.ApplyIfChanged(ctx, o, r.ownerRef(in.comp)); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reconciler) reconcilePDB(ctx context.Context, s *scope) (skeleton.Result, error) {
	return r.phaseError(s, r.reconcilePDBChildren(ctx, s.in))
}

func (r *Reconciler) reconcilePDBChildren(ctx context.Context, in *inputs) error {
	pdb := desiredPDB(in)
	if pdb == nil {
		return r.deleteOwned(ctx, in.comp, &policyv1.PodDisruptionBudget{}, in.comp.Name)
	}
	_, err := r.apply.ApplyIfChanged(ctx, pdb, r.ownerRef(in.comp))
	return err
}

// reconcileWorkloadSets applies one WorkloadSet per shard and returns them,
// the component's other WorkloadSets (of shards that no longer exist: the
// reshard phase decides when they go), and the number of shard WorkloadSets
// there were before (highest shard + 1, from the cache).
func (r *Reconciler) reconcileWorkloadSets(ctx context.Context, s *scope) (skeleton.Result, error) {
	wss, leaving, existing, err := r.applyWorkloadSets(ctx, s.in)
	if err != nil {
		return r.phaseError(s, err)
	}
	s.wss, s.leaving, s.existing = wss, leaving, existing
	return skeleton.Result{}, nil
}

func (r *Reconciler) applyWorkloadSets(ctx context.Context, in *inputs) (applied, leaving []plinthv1.WorkloadSet, existing int32, err error) {
	desired, err := desiredWorkloadSets(in)
	if err != nil {
		return nil, nil, 0, &renderError{err}
	}
	var list plinthv1.WorkloadSetList
	if err := r.Client.List(ctx, &list, client.InNamespace(in.comp.Namespace), client.MatchingLabels{plinthv1.LabelComponent: in.comp.Name}); err != nil {
		return nil, nil, 0, err
	}
	before := map[string]int32{}
	for i := range list.Items {
		before[list.Items[i].Name] = list.Items[i].Spec.Replicas
	}
	want := map[string]bool{}
	for _, ws := range desired {
		want[ws.Name] = true
		changed, err := r.apply.ApplyIfChanged(ctx, ws, r.ownerRef(in.comp))
		if err != nil {
			return nil, nil, 0, err
		}
		applied = append(applied, *ws)
		switch old, ok := before[ws.Name]; {
		case !changed:
		case !ok:
			r.event(in.comp, corev1.EventTypeNormal, plinthv1.EventReasonCreated, plinthv1.EventActionCreate, "created WorkloadSet %s with %d replicas", ws.Name, ws.Spec.Replicas)
		case old != ws.Spec.Replicas:
			r.event(in.comp, corev1.EventTypeNormal, plinthv1.EventReasonScaled, plinthv1.EventActionScale, "scaled WorkloadSet %s from %d to %d replicas", ws.Name, old, ws.Spec.Replicas)
		default:
			r.event(in.comp, corev1.EventTypeNormal, plinthv1.EventReasonUpdated, plinthv1.EventActionUpdate, "updated WorkloadSet %s", ws.Name)
		}
	}
	present := map[string]bool{}
	for i := range list.Items {
		ws := &list.Items[i]
		if !metav1.IsControlledBy(ws, in.comp) {
			continue
		}
		present[ws.Name] = true
		if !want[ws.Name] {
			leaving = append(leaving, *ws)
		}
	}
	if in.sharded() {
		limit := in.shards()
		if in.topo.Shards != nil {
			limit = max(limit, in.topo.Shards.Max)
		}
		for s := int32(0); s < limit; s++ {
			if present[naming.WorkloadSet(in.comp.Name, s)] {
				existing = s + 1
			}
		}
	}
	return applied, leaving, existing, nil
}

// deleteWorkloadSets deletes the WorkloadSets of shards that no longer exist.
func (r *Reconciler) deleteWorkloadSets(ctx context.Context, wss []plinthv1.WorkloadSet) error {
	for i := range wss {
		r.log(ctx).Info("deleting WorkloadSet of a removed shard", "workloadset", wss[i].Name)
		if err := r.Client.Delete(ctx, &wss[i]); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}
