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
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/conditions"
	"github.com/plinth-io/plinth/internal/naming"
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

	apply       ssa.Applier
	bootstrapMu sync.Mutex
	bootstrap   bootstrapTracker
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

// Reconcile renders the Component's children and summarises its WorkloadSets.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (res reconcile.Result, retErr error) {
	comp := &plinthv1.Component{}
	if err := r.Client.Get(ctx, req.NamespacedName, comp); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !comp.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil // children go with their owner
	}
	before := comp.Status.DeepCopy()
	status := comp.Status.DeepCopy()
	status.ObservedGeneration = comp.Generation
	defer func() {
		if err := r.writeStatus(ctx, comp, before, status); err != nil {
			retErr = errors.Join(retErr, err)
		}
	}()

	pv, err := r.Plugins.Get(comp.Spec.Plugin, comp.Spec.PluginVersion)
	if err != nil {
		r.log(ctx).Info("plugin version not usable; waiting", "plugin", comp.Spec.Plugin, "pluginVersion", comp.Spec.PluginVersion, "reason", err.Error())
		conditions.MarkFalse(&status.Conditions, comp.Generation, plinthv1.ConditionReady, plinthv1.ReasonPluginNotFound, err.Error())
		status.Phase = plinthv1.ComponentFailed
		return reconcile.Result{RequeueAfter: pluginRetry}, nil
	}
	in, err := newInputs(comp, pv, r.Platform)
	if err != nil {
		return r.renderFailed(comp, status, err)
	}

	r.log(ctx).V(1).Info("rendering component", "plugin", pv.Name(), "pluginVersion", pv.Version(), "componentDef", in.def.Name)
	recheck, err := r.reconcileTLS(ctx, in)
	if err != nil {
		return reconcile.Result{}, fmt.Errorf("agent TLS material: %w", err)
	}
	for _, phase := range []func(context.Context, *inputs) error{
		r.reconcileConfig,
		r.reconcileServices,
		r.reconcileAgentRBAC,
		r.reconcilePDB,
	} {
		if err := phase(ctx, in); err != nil {
			var re *renderError
			if errors.As(err, &re) {
				return r.renderFailed(comp, status, re.err)
			}
			return reconcile.Result{}, err
		}
	}
	wss, leaving, existing, err := r.reconcileWorkloadSets(ctx, in)
	if err != nil {
		var re *renderError
		if errors.As(err, &re) {
			return r.renderFailed(comp, status, re.err)
		}
		return reconcile.Result{}, err
	}
	again := r.reconcileBootstrap(ctx, in, wss, status)
	rs := r.reconcileReshard(ctx, in, append(slices.Clip(wss), leaving...), existing, status)
	if rs.release {
		if err := r.deleteWorkloadSets(ctx, leaving); err != nil {
			return reconcile.Result{}, err
		}
		leaving = nil
	}
	summarize(comp, append(wss, leaving...), status, in.topo.Bootstrap != nil && !conditions.IsTrue(status.Conditions, plinthv1.ConditionBootstrapped), rs.holding)
	for _, d := range []time.Duration{again, rs.again} {
		if d > 0 && d < recheck {
			recheck = d
		}
	}
	return reconcile.Result{RequeueAfter: recheck}, nil
}

// renderError is a plugin or spec problem no retry will fix.
type renderError struct{ err error }

func (e *renderError) Error() string { return e.err.Error() }

func (r *Reconciler) renderFailed(comp *plinthv1.Component, status *plinthv1.ComponentStatus, err error) (reconcile.Result, error) {
	conditions.MarkFalse(&status.Conditions, comp.Generation, plinthv1.ConditionReady, plinthv1.ReasonRenderFailed, err.Error())
	status.Phase = plinthv1.ComponentFailed
	return reconcile.Result{}, reconcile.TerminalError(err)
}

func (r *Reconciler) reconcileConfig(ctx context.Context, in *inputs) error {
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

func (r *Reconciler) reconcileServices(ctx context.Context, in *inputs) error {
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

func (r *Reconciler) reconcileAgentRBAC(ctx context.Context, in *inputs) error {
	sa, role, rb := desiredAgentRBAC(in)
	for _, o := range []client.Object{sa, role, rb} {
		if _, err := r.apply.ApplyIfChanged(ctx, o, r.ownerRef(in.comp)); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reconciler) reconcilePDB(ctx context.Context, in *inputs) error {
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
func (r *Reconciler) reconcileWorkloadSets(ctx context.Context, in *inputs) (applied, leaving []plinthv1.WorkloadSet, existing int32, err error) {
	desired, err := desiredWorkloadSets(in)
	if err != nil {
		return nil, nil, 0, &renderError{err}
	}
	var list plinthv1.WorkloadSetList
	if err := r.Client.List(ctx, &list, client.InNamespace(in.comp.Namespace), client.MatchingLabels{plinthv1.LabelComponent: in.comp.Name}); err != nil {
		return nil, nil, 0, err
	}
	want := map[string]bool{}
	for _, ws := range desired {
		want[ws.Name] = true
		if _, err := r.apply.ApplyIfChanged(ctx, ws, r.ownerRef(in.comp)); err != nil {
			return nil, nil, 0, err
		}
		applied = append(applied, *ws)
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

// writeStatus server-side-applies status once, when it changed.
func (r *Reconciler) writeStatus(ctx context.Context, comp *plinthv1.Component, before, after *plinthv1.ComponentStatus) error {
	if equality.Semantic.DeepEqual(before, after) {
		return nil
	}
	if err := r.apply.ApplyStatus(ctx, comp, after); err != nil {
		return fmt.Errorf("writing status of component %s/%s: %w", comp.Namespace, comp.Name, err)
	}
	return nil
}
