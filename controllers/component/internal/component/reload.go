package component

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/skeleton"
	"github.com/plinth-io/plinth/pluginregistry"
)

// The automatic Reload: the operation template a plugin version declares to
// hand changed dynamic parameters to running pods, and the parameters the
// component-controller fills.
const (
	reloadTemplate      = "Reload"
	reloadParamComp     = "component"
	reloadParamSettings = "settings"
)

// reconcileReloadPhase hands dynamic parameters that changed since they were
// last handed to the running pods (status.appliedDynamicParameters) to those
// pods, through a Reload Operation of the plugin version. It runs after the
// config phase (the ConfigMap already holds the new values, for pods started
// later) and before the workloadsets phase (the cached WorkloadSets still
// show whether this change restarts the pods anyway).
func (r *Reconciler) reconcileReloadPhase(ctx context.Context, s *scope) (skeleton.Result, error) {
	in := s.in
	dyn, err := dynamicParameters(in)
	if err != nil {
		return r.phaseError(s, &renderError{err})
	}
	prev := s.status.AppliedDynamicParameters
	changed := changedParameters(prev, dyn)
	log := r.log(ctx)
	switch {
	case prev == nil:
		// A brand-new Component: its pods read these values from the
		// configuration files when they start. This is the baseline.
		s.status.AppliedDynamicParameters = dyn
		return skeleton.Result{}, nil
	case len(changed) == 0:
		s.status.AppliedDynamicParameters = dyn
		return skeleton.Result{}, nil
	}
	names := slices.Sorted(maps.Keys(changed))
	reason := "dynamic parameters changed: " + strings.Join(names, ", ")
	restart, err := r.podsRestart(ctx, in)
	if err != nil {
		return r.phaseError(s, err)
	}
	switch {
	case in.comp.Spec.Stopped:
		log.Info("dynamic parameters changed while stopped; the pods read them when they start", "parameters", names)
	case restart != "":
		log.Info("dynamic parameters changed with a change that restarts the pods; they read the new values when they restart", "parameters", names, "restart", restart)
	case !acceptsAutomaticReload(in.pv.OperationTemplate(reloadTemplate)):
		log.Info("dynamic parameters changed; the plugin version has no Reload operation template taking component and settings, so no Reload is created and the new values reach the pods when they next restart",
			"parameters", names, "plugin", in.pv.Name(), "pluginVersion", in.pv.Version())
	default:
		op, secret, err := desiredReloadOperation(in, changed, reason)
		if err != nil {
			log.Info("dynamic parameters changed; no Reload is created: "+err.Error(), "parameters", names)
			break
		}
		if len(secret) > 0 {
			log.Info("changed secret dynamic parameters are left out of the Reload (an Operation never carries a secret); they reach the pods when they next restart", "parameters", secret)
		}
		if op != nil {
			if err := r.createReload(ctx, in.comp, op, names); err != nil {
				return skeleton.Result{}, err
			}
		}
	}
	s.status.AppliedDynamicParameters = dyn
	return skeleton.Result{}, nil
}

// createReload creates op; one that exists already (a retried pass, the
// same change) is the one wanted.
func (r *Reconciler) createReload(ctx context.Context, comp *plinthv1.Component, op *plinthv1.Operation, names []string) error {
	err := r.Client.Create(ctx, op)
	switch {
	case apierrors.IsAlreadyExists(err):
		r.log(ctx).V(1).Info("the Reload Operation for this change exists already", "operation", op.Name)
		return nil
	case err != nil:
		return fmt.Errorf("creating Reload Operation %s: %w", op.Name, err)
	}
	r.log(ctx).Info("created a Reload Operation for changed dynamic parameters", "operation", op.Name, "parameters", names)
	r.event(comp, corev1.EventTypeNormal, plinthv1.EventReasonCreated, plinthv1.EventActionCreate,
		"created Operation %s to reload the changed dynamic parameters %s", op.Name, strings.Join(names, ", "))
	return nil
}

// podsRestart says why the running pods will restart anyway (and so read the
// new configuration files), or "" when they keep running: no WorkloadSet
// exists yet, or this change rolls a restart-only parameter into the pod
// template (AnnotationRestartHash).
func (r *Reconciler) podsRestart(ctx context.Context, in *inputs) (string, error) {
	hash, err := restartParametersHash(in)
	if err != nil {
		return "", &renderError{err}
	}
	var list plinthv1.WorkloadSetList
	if err := r.Client.List(ctx, &list, client.InNamespace(in.comp.Namespace), client.MatchingLabels{plinthv1.LabelComponent: in.comp.Name}); err != nil {
		return "", fmt.Errorf("listing the component's WorkloadSets: %w", err)
	}
	found := false
	for i := range list.Items {
		ws := &list.Items[i]
		if !metav1.IsControlledBy(ws, in.comp) {
			continue
		}
		found = true
		if ws.Spec.Template.Annotations[AnnotationRestartHash] != hash {
			return "a restart-only parameter changed", nil
		}
	}
	if !found {
		return "no pods run yet", nil
	}
	return "", nil
}

// acceptsAutomaticReload says whether a Reload template takes what the
// component-controller fills: the component and its changed settings. Older
// plugin versions' Reload templates set one parameter a person names.
func acceptsAutomaticReload(t *pluginregistry.OperationTemplate) bool {
	if t == nil {
		return false
	}
	var comp, settings bool
	for _, p := range t.Parameters {
		comp = comp || p.Name == reloadParamComp
		settings = settings || p.Name == reloadParamSettings
	}
	return comp && settings
}

// secretValue is what status.appliedDynamicParameters keeps of a secret
// parameter: a hash that changes with the value.
func secretValue(v string) string {
	sum := sha256.Sum256([]byte(v))
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// dynamicParameters are the effective values (the Component's parameters
// over the plugin's defaults) of the component's dynamic parameters, as
// status.appliedDynamicParameters records them (secret ones hashed).
func dynamicParameters(in *inputs) (map[string]string, error) {
	cp, err := in.pv.ComponentParams(in.def.Name)
	if err != nil {
		return nil, err
	}
	eff, err := pluginregistry.ValidateParameters(in.pv, in.def.Name, in.comp.Spec.Parameters)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, p := range cp.Parameters {
		v, ok := eff[p.Name]
		if !p.Dynamic || !ok {
			continue
		}
		if p.Secret {
			v = secretValue(v)
		}
		out[p.Name] = v
	}
	return out, nil
}

// changedParameters are the parameters of now whose value differs from
// before's (or that before lacks).
func changedParameters(before, now map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range now {
		if old, ok := before[k]; !ok || old != v {
			out[k] = v
		}
	}
	return out
}

// desiredReloadOperation is the Reload Operation handing the changed
// dynamic parameters to the pods: targeting the Application, labelled
// automatic, owned by the Application (garbage-collected with it), and named
// after the settings and the Component's generation so that a retried pass
// finds it instead of creating another. Secret parameters are left out (they
// are returned by name); op is nil when nothing else changed.
func desiredReloadOperation(in *inputs, changed map[string]string, reason string) (op *plinthv1.Operation, secret []string, err error) {
	comp := in.comp
	owner := metav1.GetControllerOf(comp)
	if owner == nil || owner.Kind != "Application" || owner.Name != comp.Spec.Application {
		return nil, nil, fmt.Errorf("component %s is not controlled by its Application %s, which would own the Operation", comp.Name, comp.Spec.Application)
	}
	cp, err := in.pv.ComponentParams(in.def.Name)
	if err != nil {
		return nil, nil, err
	}
	isSecret := map[string]bool{}
	for _, p := range cp.Parameters {
		isSecret[p.Name] = p.Secret
	}
	var lines []string
	for _, name := range slices.Sorted(maps.Keys(changed)) {
		if isSecret[name] {
			secret = append(secret, name)
			continue
		}
		lines = append(lines, name+" "+changed[name])
	}
	if len(lines) == 0 {
		return nil, secret, nil
	}
	settings := strings.Join(lines, "\n")
	sum := sha256.Sum256([]byte(settings + "\n" + strconv.FormatInt(comp.Generation, 10)))
	return &plinthv1.Operation{
		ObjectMeta: metav1.ObjectMeta{
			Name:      comp.Name + "-reload-" + hex.EncodeToString(sum[:4]),
			Namespace: comp.Namespace,
			Labels: map[string]string{
				plinthv1.LabelApplication: comp.Spec.Application,
				plinthv1.LabelComponent:   comp.Name,
				plinthv1.LabelAutomatic:   "true",
			},
			Annotations: map[string]string{plinthv1.AnnotationReason: reason},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: owner.APIVersion, Kind: owner.Kind, Name: owner.Name, UID: owner.UID,
			}},
		},
		Spec: plinthv1.OperationSpec{
			TargetRef:   plinthv1.TargetReference{APIGroup: plinthv1.GroupVersion.Group, Kind: "Application", Name: comp.Spec.Application},
			TemplateRef: reloadTemplate,
			Parameters:  map[string]string{reloadParamComp: comp.Spec.ComponentDef, reloadParamSettings: settings},
		},
	}, secret, nil
}
