package operation

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/pluginregistry"
)

// resourceKinds are the kinds a resource step may apply or delete (the
// operation-controller's RBAC grants exactly these). Secrets are not among
// them: a manifest in a template would put its data in the audit record.
// The target Application itself may only be deleted.
var resourceKinds = map[schema.GroupKind]bool{
	{Group: "", Kind: "ConfigMap"}:             true,
	{Group: "", Kind: "Service"}:               true,
	{Group: "", Kind: "PersistentVolumeClaim"}: true,
	{Group: "batch", Kind: "Job"}:              true,
	{Group: "plinth.io", Kind: "Backup"}:       true,
	{Group: "plinth.io", Kind: "Application"}:  true,
}

func resourceKindNames() string {
	var out []string
	for gk := range resourceKinds {
		out = append(out, gk.String())
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// manifestOf decodes a resource step's manifest and checks where it points:
// an allowed kind, in the Operation's namespace (an empty namespace means
// it).
func manifestOf(s *scope, res *pluginregistry.ResourceStep) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(res.Manifest), &u.Object); err != nil {
		return nil, failf("the manifest is not a YAML object: %v", err)
	}
	if u.Object == nil || u.GetKind() == "" || u.GetAPIVersion() == "" || u.GetName() == "" {
		return nil, failf("the manifest needs apiVersion, kind and metadata.name")
	}
	gk := u.GroupVersionKind().GroupKind()
	if !resourceKinds[gk] {
		return nil, failf("resource steps may act on %s; not on %s", resourceKindNames(), gk)
	}
	switch u.GetNamespace() {
	case "":
		u.SetNamespace(s.op.Namespace)
	case s.op.Namespace:
	default:
		return nil, failf("%s %s is in namespace %s: a step acts only in its Operation's namespace %s", u.GetKind(), u.GetName(), u.GetNamespace(), s.op.Namespace)
	}
	if s.app == nil {
		return nil, failf("the target Application %s is gone", s.op.Spec.TargetRef.Name)
	}
	if gk.Kind == "Application" {
		if res.Action != "delete" {
			return nil, failf("a resource step may delete the target Application but not apply one (use a patch step)")
		}
		if u.GetName() != s.app.Name {
			return nil, failf("a step may delete only the target Application %s, not Application %q", s.app.Name, u.GetName())
		}
	}
	if res.Action != "apply" && res.Action != "delete" {
		return nil, failf("resource action %q: expected apply or delete", res.Action)
	}
	return u, nil
}

// existing reads the object u names (nil when there is none) and checks
// that it belongs to the target.
func (r *Reconciler) existing(ctx context.Context, s *scope, u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	cur := &unstructured.Unstructured{}
	cur.SetGroupVersionKind(u.GroupVersionKind())
	err := r.apiReader.Get(ctx, client.ObjectKeyFromObject(u), cur)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", u.GetKind(), u.GetName(), err)
	}
	if u.GetKind() == "Application" {
		return cur, nil
	}
	if cur.GetLabels()[plinthv1.LabelApplication] != s.app.Name {
		return nil, failf("%s %s exists and does not belong to Application %s (label %s is %q): a step may change only what its target owns", u.GetKind(), u.GetName(), s.app.Name, plinthv1.LabelApplication, cur.GetLabels()[plinthv1.LabelApplication])
	}
	return cur, nil
}

func (r *Reconciler) runResource(ctx context.Context, s *scope, res *pluginregistry.ResourceStep, rec *plinthv1.StepStatus) (bool, time.Duration, error) {
	u, err := manifestOf(s, res)
	if err != nil {
		return false, 0, err
	}
	cur, err := r.existing(ctx, s, u)
	if err != nil {
		return false, 0, err
	}
	if res.Action == "delete" {
		if cur == nil {
			rec.Message = fmt.Sprintf("%s %s is gone", u.GetKind(), u.GetName())
			return true, 0, nil
		}
		if cur.GetDeletionTimestamp() == nil {
			policy := metav1.DeletePropagationBackground
			if err := r.client.Delete(ctx, cur, &client.DeleteOptions{PropagationPolicy: &policy, Preconditions: &metav1.Preconditions{UID: ptr(cur.GetUID())}}); err != nil && !apierrors.IsNotFound(err) {
				return false, 0, fmt.Errorf("deleting %s %s: %w", u.GetKind(), u.GetName(), err)
			}
		}
		rec.Message = fmt.Sprintf("deleted %s %s", u.GetKind(), u.GetName())
		return true, 0, nil
	}
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[plinthv1.LabelApplication] = s.app.Name
	labels[plinthv1.LabelManagedBy] = plinthv1.ManagedByPlinth
	u.SetLabels(labels)
	gvk := plinthv1.GroupVersion.WithKind("Application")
	u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Name: s.app.Name, UID: s.app.UID}})
	//nolint:staticcheck // Patch with client.Apply is the SSA path for a rendered manifest.
	if err := r.client.Patch(ctx, u, client.Apply, client.FieldOwner(r.status.FieldManager), client.ForceOwnership); err != nil {
		if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err) {
			return false, 0, failf("the API server refused %s %s: %v", u.GetKind(), u.GetName(), err)
		}
		return false, 0, fmt.Errorf("applying %s %s: %w", u.GetKind(), u.GetName(), err)
	}
	rec.Message = fmt.Sprintf("applied %s %s", u.GetKind(), u.GetName())
	return true, 0, nil
}

func ptr[T any](v T) *T { return &v }
