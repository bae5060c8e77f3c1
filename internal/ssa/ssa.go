package ssa

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// Applier applies objects as one field manager.
type Applier struct {
	Client client.Client
	// FieldManager names the controller, e.g. plinth-component-controller.
	FieldManager string
}

// Apply server-side-applies obj, controlled by owner when owner is not nil.
// The server's answer is written back into obj.
func (a Applier) Apply(ctx context.Context, obj client.Object, owner *metav1.OwnerReference) error {
	if err := a.prepare(obj, owner); err != nil {
		return err
	}
	return a.patch(ctx, obj)
}

// prepare makes obj an apply request body: its TypeMeta, owner and no
// server-kept metadata.
func (a Applier) prepare(obj client.Object, owner *metav1.OwnerReference) error {
	if err := a.setTypeMeta(obj); err != nil {
		return err
	}
	if owner != nil {
		ref := *owner
		ref.Controller, ref.BlockOwnerDeletion = ptr(true), ptr(true)
		obj.SetOwnerReferences([]metav1.OwnerReference{ref})
	}
	obj.SetManagedFields(nil)
	obj.SetResourceVersion("")
	return nil
}

func (a Applier) patch(ctx context.Context, obj client.Object) error {
	//nolint:staticcheck // Patch with client.Apply is the typed SSA path for objects we build whole.
	if err := a.Client.Patch(ctx, obj, client.Apply, client.FieldOwner(a.FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("applying %s %s/%s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

// ApplyStatus server-side-applies status as the status of obj: the request
// names obj's kind, namespace and name and holds nothing but the status, so
// the field manager owns only the status fields it sets. A missing object
// is not an error (it was deleted during the pass).
func (a Applier) ApplyStatus(ctx context.Context, obj client.Object, status any) error {
	gvk, err := apiutil.GVKForObject(obj.(runtime.Object), a.Client.Scheme())
	if err != nil {
		return err
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(status)
	if err != nil {
		return fmt.Errorf("encoding the status of %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"status": content}}
	u.SetGroupVersionKind(gvk)
	u.SetNamespace(obj.GetNamespace())
	u.SetName(obj.GetName())
	err = a.Client.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(a.FieldManager), client.ForceOwnership)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("applying the status of %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

func (a Applier) setTypeMeta(obj client.Object) error {
	if !obj.GetObjectKind().GroupVersionKind().Empty() {
		return nil
	}
	gvk, err := apiutil.GVKForObject(obj, a.Client.Scheme())
	if err != nil {
		return err
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return nil
}

// ControllerRef is the controller owner reference to owner.
func (a Applier) ControllerRef(owner client.Object) (*metav1.OwnerReference, error) {
	gvk, err := apiutil.GVKForObject(owner.(runtime.Object), a.Client.Scheme())
	if err != nil {
		return nil, err
	}
	return metav1.NewControllerRef(owner, gvk), nil
}

func ptr[T any](v T) *T { return &v }
