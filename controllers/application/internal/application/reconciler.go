package application

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/conditions"
	"github.com/plinth-io/plinth/internal/naming"
	"github.com/plinth-io/plinth/internal/skeleton"
	"github.com/plinth-io/plinth/internal/ssa"
	"github.com/plinth-io/plinth/pluginregistry"
)

// registryCatchUpDelay is how long to wait before asking the registry again
// when ConfigMaps of a plugin version exist that the registry has not judged
// yet (it validates them asynchronously after its informer sees them, for
// example just after the controller starts).
const registryCatchUpDelay = 2 * time.Second

// Reconciler reconciles Applications.
type Reconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	Client client.Client
	// APIReader reads from the API server directly: the credentials Secret is
	// checked by metadata only, so Secrets are never cached or read.
	APIReader client.Reader
	// Plugins serves the plugin versions.
	Plugins Plugins
	// PlatformNamespace holds the plugin ConfigMaps.
	PlatformNamespace string
	// FieldManager owns every field this controller writes (Components and
	// the Application's status).
	FieldManager string
	// Recorder records Events on Applications (events.k8s.io/v1); nil
	// records none.
	Recorder events.EventRecorder

	status ssa.Applier
	// pass is the skeleton running the phases (see controller).
	pass *skeleton.Controller[*plinthv1.Application, *scope]
}

// event records an Event on obj when there is a Recorder.
func (r *Reconciler) event(obj runtime.Object, eventType, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, eventType, reason, action, note, args...)
	}
}

// scope is one reconcile's state: what was read, what was decided and the
// status being built (written once, at the end).
type scope struct {
	app    *plinthv1.Application
	status *plinthv1.ApplicationStatus
	// pv is the pinned plugin version and running the one the Application
	// runs now, when it differs.
	pv, running *pluginregistry.PluginVersion
	// runningVersion is the middleware version the upgrade rules start
	// from (see handedOver).
	runningVersion string
	resolved       []resolved
	components     []*plinthv1.Component
	// gone is set when the Application no longer exists (or is no longer
	// this controller's): its status is not written.
	gone bool
}

// controller is the application reconciler on the shared skeleton: the
// phases in the order they run, and the one status write.
func (r *Reconciler) controller() *skeleton.Controller[*plinthv1.Application, *scope] {
	return &skeleton.Controller[*plinthv1.Application, *scope]{
		Client: r.Client,
		New:    func() *plinthv1.Application { return &plinthv1.Application{} },
		Scope: func(_ context.Context, app *plinthv1.Application) (*scope, error) {
			return &scope{app: app, status: app.Status.DeepCopy()}, nil
		},
		Phases: []skeleton.Phase[*scope]{
			{Name: "deletion", Run: r.handleDeletion},
			{Name: "finalizer", Run: r.ensureFinalizer},
			{Name: "plugin", Run: r.resolvePlugin},
			{Name: "validate", Run: r.validate},
			{Name: "credentials", Run: r.ensureCredentials},
			{Name: "components", Run: r.applyComponents},
			{Name: "summary", Run: r.summarise},
		},
		WriteStatus: r.writeStatus,
	}
}

// Reconcile runs one pass (see controller).
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return r.pass.Reconcile(ctx, req)
}

// handleDeletion carries out the termination policy of a deleted Application.
func (r *Reconciler) handleDeletion(ctx context.Context, s *scope) (skeleton.Result, error) {
	app := s.app
	if app.DeletionTimestamp.IsZero() {
		return skeleton.Result{}, nil
	}
	if !controllerutil.ContainsFinalizer(app, plinthv1.FinalizerApplication) {
		s.gone = true
		return skeleton.StopJudged(), nil
	}
	log := logf.FromContext(ctx)
	switch app.Spec.TerminationPolicy {
	case plinthv1.TerminationDoNotTerminate:
		log.Info("deletion is blocked by terminationPolicy DoNotTerminate; keeping the finalizer")
		conditions.MarkTrue(&s.status.Conditions, app.Generation, plinthv1.ConditionDeletionBlocked, plinthv1.ReasonDoNotTerminate, fmt.Sprintf(
			"terminationPolicy is DoNotTerminate, so the Application is kept and keeps running; to let the deletion proceed set spec.terminationPolicy to Delete (keeps volumes and backups) or WipeOut (also removes volumes): "+
				"kubectl patch applications.plinth.io %s -n %s --type merge -p '{\"spec\":{\"terminationPolicy\":\"Delete\"}}'", app.Name, app.Namespace))
		// The Application is still wanted until the policy changes: keep
		// reconciling it.
		return skeleton.Result{}, nil
	}
	s.status.Phase = plinthv1.ApplicationDeleting
	conditions.MarkFalse(&s.status.Conditions, app.Generation, plinthv1.ConditionReady, plinthv1.ReasonDeleting, "the Application is being deleted")
	if app.Spec.TerminationPolicy == plinthv1.TerminationWipeOut {
		log.Info("terminationPolicy WipeOut: deleting the Application's PVCs", "selector", plinthv1.LabelApplication+"="+app.Name)
		if err := r.Client.DeleteAllOf(ctx, &corev1.PersistentVolumeClaim{}, client.InNamespace(app.Namespace),
			client.MatchingLabels{plinthv1.LabelApplication: app.Name}); err != nil {
			return skeleton.Result{}, fmt.Errorf("deleting the PVCs labelled %s=%s (terminationPolicy WipeOut): %w", plinthv1.LabelApplication, app.Name, err)
		}
	}
	log.Info("releasing the Application for deletion; its Components go with it through owner references", "terminationPolicy", app.Spec.TerminationPolicy)
	patch := client.MergeFromWithOptions(app.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.RemoveFinalizer(app, plinthv1.FinalizerApplication)
	if err := r.Client.Patch(ctx, app, patch); err != nil {
		if apierrors.IsNotFound(err) {
			s.gone = true
			return skeleton.StopJudged(), nil
		}
		return skeleton.Result{}, fmt.Errorf("removing finalizer %s: %w", plinthv1.FinalizerApplication, err)
	}
	// The Application may still be there (other finalizers, foreground
	// deletion): its status then says Deleting. If it is gone, the status
	// write finds nothing and is skipped.
	return skeleton.StopJudged(), nil
}

// ensureFinalizer adds the finalizer that guards the termination policy.
func (r *Reconciler) ensureFinalizer(ctx context.Context, s *scope) (skeleton.Result, error) {
	app := s.app
	if !app.DeletionTimestamp.IsZero() || controllerutil.ContainsFinalizer(app, plinthv1.FinalizerApplication) {
		return skeleton.Result{}, nil
	}
	logf.FromContext(ctx).Info("adding finalizer", "finalizer", plinthv1.FinalizerApplication)
	patch := client.MergeFromWithOptions(app.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.AddFinalizer(app, plinthv1.FinalizerApplication)
	if err := r.Client.Patch(ctx, app, patch); err != nil {
		return skeleton.Result{}, fmt.Errorf("adding finalizer %s: %w", plinthv1.FinalizerApplication, err)
	}
	return skeleton.Result{}, nil
}

// resolvePlugin finds the pinned plugin version (and the running one, when
// the Application is being moved to another version).
func (r *Reconciler) resolvePlugin(ctx context.Context, s *scope) (skeleton.Result, error) {
	spec := &s.app.Spec
	pv, err := r.Plugins.Get(spec.Plugin, spec.PluginVersion)
	switch {
	case err == nil:
	case errors.Is(err, pluginregistry.ErrNotFound):
		if busy, lerr := r.registryCatchingUp(ctx, spec.Plugin); lerr != nil {
			return skeleton.Result{}, lerr
		} else if busy {
			logf.FromContext(ctx).Info("the registry has not yet judged every installed version of the plugin; asking again shortly",
				"plugin", spec.Plugin, "pluginVersion", spec.PluginVersion, "after", registryCatchUpDelay.String())
			return skeleton.StopWaiting(registryCatchUpDelay), nil
		}
		return r.invalid(s, plinthv1.ReasonPluginNotFound, pluginNotFoundMessage(spec.Plugin, spec.PluginVersion, r.PlatformNamespace, r.Plugins.Versions(spec.Plugin)))
	default:
		// Invalid, or changed under the same name: the registry says why.
		return r.invalid(s, plinthv1.ReasonPluginInvalid, fmt.Sprintf("plugin %s %s cannot be used: %v; fix or reinstall the plugin version, or set spec.pluginVersion to a valid one (%s)",
			spec.Plugin, spec.PluginVersion, err, listOrNone(r.Plugins.Versions(spec.Plugin))))
	}
	s.pv = pv

	from, version, err := r.handedOver(ctx, s.app)
	if err != nil {
		return skeleton.Result{}, err
	}
	s.runningVersion = version
	if from != "" && from != spec.PluginVersion {
		running, err := r.Plugins.Get(spec.Plugin, from)
		if err != nil {
			// The running version is no longer installed: the upgrade rules
			// only need its name and version.
			running = &pluginregistry.PluginVersion{Manifest: pluginregistry.Manifest{Plugin: spec.Plugin, Version: from}}
		}
		s.running = running
	}
	return skeleton.Result{}, nil
}

// handedOver returns the plugin version and middleware version the upgrade
// rules start from: status.pluginVersion and status.version once the
// Application has run, else those already handed to its Components (their
// pods may have started on them, and data written by one version is not
// always readable by another), else none (nothing was created yet).
func (r *Reconciler) handedOver(ctx context.Context, app *plinthv1.Application) (pluginVersion, version string, err error) {
	pluginVersion, version = app.Status.PluginVersion, app.Status.Version
	if pluginVersion != "" && version != "" {
		return pluginVersion, version, nil
	}
	var owned plinthv1.ComponentList
	if err := r.Client.List(ctx, &owned, client.InNamespace(app.Namespace), client.MatchingLabels{plinthv1.LabelApplication: app.Name}); err != nil {
		return "", "", fmt.Errorf("listing the Application's Components: %w", err)
	}
	for i := range owned.Items {
		c := &owned.Items[i]
		if !metav1.IsControlledBy(c, app) {
			continue
		}
		if pluginVersion == "" {
			pluginVersion = c.Spec.PluginVersion
		}
		if version == "" {
			version = c.Spec.Version
		}
	}
	return pluginVersion, version, nil
}

// registryCatchingUp says whether the platform namespace holds ConfigMaps of
// a version of plugin that the registry has not judged yet (neither serves
// nor rejects): its answers about the plugin are then not final.
func (r *Reconciler) registryCatchingUp(_ context.Context, plugin string) (bool, error) {
	busy, err := r.Plugins.Pending(plugin)
	if err != nil {
		return false, fmt.Errorf("listing the ConfigMaps of plugin %s: %w", plugin, err)
	}
	return busy, nil
}

func pluginNotFoundMessage(plugin, version, namespace string, installed []string) string {
	return fmt.Sprintf("plugin %s version %s is not installed in namespace %s (installed versions of %s: %s); install it, or set spec.pluginVersion to an installed version",
		plugin, version, namespace, plugin, listOrNone(installed))
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

// validate checks the Application against the plugin version and resolves
// its components.
func (r *Reconciler) validate(_ context.Context, s *scope) (skeleton.Result, error) {
	rs, bad := plan(s.app, s.pv, s.running, s.runningVersion)
	if bad != nil {
		return r.invalid(s, bad.Reason, bad.Error())
	}
	s.resolved = rs
	conditions.MarkTrue(&s.status.Conditions, s.app.Generation, plinthv1.ConditionValid, plinthv1.ReasonValidated,
		fmt.Sprintf("valid for plugin %s %s", s.pv.Name(), s.pv.Version()))
	return skeleton.Result{}, nil
}

// invalid reports a spec the controller cannot act on. Nothing is created or
// changed: existing Components keep running as they are. The error is
// terminal: a change of the Application (or, for a missing plugin, of the
// plugin ConfigMaps) triggers the next attempt.
func (r *Reconciler) invalid(s *scope, reason, message string) (skeleton.Result, error) {
	gen := s.app.Generation
	conditions.MarkFalse(&s.status.Conditions, gen, plinthv1.ConditionValid, reason, message)
	conditions.MarkFalse(&s.status.Conditions, gen, plinthv1.ConditionReady, reason, message)
	conditions.MarkFalse(&s.status.Conditions, gen, plinthv1.ConditionProgressing, reason, "nothing is rolled out until the spec is valid")
	s.status.Phase = plinthv1.ApplicationFailed
	r.event(s.app, corev1.EventTypeWarning, plinthv1.EventReasonSpecRefused, plinthv1.EventActionValidate, "%s: %s", reason, message)
	return skeleton.Invalid(fmt.Errorf("%s: %s", reason, message))
}

// ensureCredentials creates the credentials Secret once. An existing Secret
// is never read or changed: passwords are never regenerated.
func (r *Reconciler) ensureCredentials(ctx context.Context, s *scope) (skeleton.Result, error) {
	app := s.app
	name := naming.CredentialsSecret(app.Name)
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: app.Namespace, Name: name}, meta)
	switch {
	case err == nil:
	case apierrors.IsNotFound(err):
		secret, err := credentialsSecret(app, s.pv.Manifest.AdminUser)
		if err != nil {
			return skeleton.Result{}, err
		}
		logf.FromContext(ctx).Info("creating the credentials Secret", "secret", name)
		if err := r.Client.Create(ctx, secret); err != nil && !apierrors.IsAlreadyExists(err) {
			return skeleton.Result{}, fmt.Errorf("creating the credentials Secret %s: %w", name, err)
		}
	default:
		return skeleton.Result{}, fmt.Errorf("checking the credentials Secret %s: %w", name, err)
	}
	s.status.CredentialsSecret = name
	return skeleton.Result{}, nil
}

// applyComponents applies one Component per topology component and removes
// Components of this Application the topology no longer has.
func (r *Reconciler) applyComponents(ctx context.Context, s *scope) (skeleton.Result, error) {
	app := s.app
	log := logf.FromContext(ctx)
	want := map[string]bool{}
	for _, rc := range s.resolved {
		desired := desiredComponent(app, s.pv, rc)
		want[desired.Name] = true
		log.V(1).Info("applying Component", "component", desired.Name)
		before := &plinthv1.Component{}
		beforeErr := r.Client.Get(ctx, client.ObjectKeyFromObject(desired), before)
		applied, changed, err := r.apply(ctx, desired)
		if err != nil {
			return skeleton.Result{}, err // names the Component
		}
		switch {
		case !changed:
		case apierrors.IsNotFound(beforeErr):
			r.event(app, corev1.EventTypeNormal, plinthv1.EventReasonCreated, plinthv1.EventActionCreate, "created Component %s", desired.Name)
		case beforeErr == nil && (before.Spec.Replicas != desired.Spec.Replicas || before.Spec.Shards != desired.Spec.Shards):
			r.event(app, corev1.EventTypeNormal, plinthv1.EventReasonScaled, plinthv1.EventActionScale, "scaled Component %s from %d to %d replicas (shards %d to %d)",
				desired.Name, before.Spec.Replicas, desired.Spec.Replicas, max(before.Spec.Shards, 1), max(desired.Spec.Shards, 1))
		case beforeErr == nil:
			r.event(app, corev1.EventTypeNormal, plinthv1.EventReasonUpdated, plinthv1.EventActionUpdate, "updated Component %s", desired.Name)
		}
		s.components = append(s.components, applied)
	}

	var owned plinthv1.ComponentList
	if err := r.Client.List(ctx, &owned, client.InNamespace(app.Namespace), client.MatchingLabels{plinthv1.LabelApplication: app.Name}); err != nil {
		return skeleton.Result{}, fmt.Errorf("listing the Application's Components: %w", err)
	}
	for i := range owned.Items {
		c := &owned.Items[i]
		if want[c.Name] || !metav1.IsControlledBy(c, app) || !c.DeletionTimestamp.IsZero() {
			continue
		}
		log.Info("deleting Component the topology no longer has", "component", c.Name)
		if err := r.Client.Delete(ctx, c, client.Preconditions{UID: &c.UID}); client.IgnoreNotFound(err) != nil {
			return skeleton.Result{}, fmt.Errorf("deleting Component %s: %w", c.Name, err)
		}
	}

	s.status.Endpoints = endpoints(app, s.resolved)
	return skeleton.Result{}, nil
}

// apply server-side applies a Component, unless the cache already holds it
// as desired, and returns it as stored and whether it applied.
func (r *Reconciler) apply(ctx context.Context, c *plinthv1.Component) (*plinthv1.Component, bool, error) {
	a := ssa.Applier{Client: r.Client, FieldManager: r.FieldManager}
	changed, err := a.ApplyIfChanged(ctx, c, nil)
	if err != nil {
		return nil, false, err
	}
	return c, changed, nil
}

// summarise derives the phase and conditions from the Components.
func (r *Reconciler) summarise(_ context.Context, s *scope) (skeleton.Result, error) {
	app := s.app
	specChanged := app.Status.ObservedGeneration != 0 && app.Status.ObservedGeneration != app.Generation
	a := aggregate(app.Status.Phase, specChanged, app.Spec.Stopped, s.components)
	s.status.Phase = a.Phase
	s.status.Ready = a.Ready
	s.status.Components = a.Components
	gen := app.Generation
	conditions.Set(&s.status.Conditions, gen, plinthv1.ConditionReady, a.ReadyStatus, a.ReadyReason, a.ReadyMessage)
	if a.Progressing {
		conditions.MarkTrue(&s.status.Conditions, gen, plinthv1.ConditionProgressing, a.ReadyReason, a.ReadyMessage)
	} else {
		conditions.MarkFalse(&s.status.Conditions, gen, plinthv1.ConditionProgressing, a.ReadyReason, "nothing is being rolled out")
	}
	if rolledOut(app, s.components) {
		s.status.PluginVersion, s.status.Version = app.Spec.PluginVersion, app.Spec.Version
	}
	return skeleton.Result{}, nil
}

// writeStatus writes the status once, when it changed: observedGeneration
// moves only after a complete pass (a verdict on the whole spec); a pass
// ended by an error that is not a verdict says so in Ready (reason
// ReconcileFailed).
func (r *Reconciler) writeStatus(ctx context.Context, s *scope, o skeleton.Outcome) error {
	if s.gone {
		return nil
	}
	app := s.app
	skeleton.Observe(o, app.Generation, &s.status.ObservedGeneration, &s.status.Conditions)
	if equality.Semantic.DeepEqual(app.Status, *s.status) {
		return nil
	}
	return r.status.ApplyStatus(ctx, app, s.status)
}
