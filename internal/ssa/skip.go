package ssa

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

// AnnotationDesiredHash is set by ApplyIfChanged on every object it applies:
// a hash of the object as the controller last wanted it.
const AnnotationDesiredHash = plinthv1.AnnotationDesiredHash

// ApplyIfChanged applies obj like Apply, unless Client's reader (the
// manager's informer cache) already holds the object as it would be after the
// apply: its AnnotationDesiredHash is the hash of obj (so the controller
// wants nothing else than last time, and no field it applied then is to be
// removed), and every field obj sets has obj's value there (so nobody has
// changed or removed one since). On a skip obj is filled with the cached
// object, as Apply fills it with the server's answer. It reports whether it
// applied.
//
// The cache lags the API server: a stale cached object only costs an apply
// that changes nothing. A child changed by someone else is repaired as long
// as its changes reach the controller: the caller must watch the kind (Owns)
// so that a change enqueues the owner.
func (a Applier) ApplyIfChanged(ctx context.Context, obj client.Object, owner *metav1.OwnerReference) (bool, error) {
	if err := a.prepare(obj, owner); err != nil {
		return false, err
	}
	body, hash, err := desiredHash(obj)
	if err != nil {
		return false, err
	}
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationDesiredHash] = hash
	obj.SetAnnotations(ann)

	cached := reflect.New(reflect.TypeOf(obj).Elem()).Interface().(client.Object)
	err = a.Client.Get(ctx, client.ObjectKeyFromObject(obj), cached)
	switch {
	case err == nil:
		if upToDate(cached, hash, body) {
			gvk := obj.GetObjectKind().GroupVersionKind()
			reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(cached).Elem())
			obj.GetObjectKind().SetGroupVersionKind(gvk)
			return false, nil
		}
	case apierrors.IsNotFound(err):
	default:
		// An unreadable cache is no reason not to apply.
	}
	return true, a.patch(ctx, obj)
}

// desiredHash is the JSON apply body of obj without its hash annotation, and
// the hash of that body.
func desiredHash(obj client.Object) (map[string]any, string, error) {
	ann := obj.GetAnnotations()
	if _, ok := ann[AnnotationDesiredHash]; ok {
		delete(ann, AnnotationDesiredHash)
		obj.SetAnnotations(ann)
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, "", fmt.Errorf("encoding %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(raw)
	return body, hex.EncodeToString(sum[:16]), nil
}

// upToDate tells whether cached carries hash and every field of the apply
// body with the body's value.
func upToDate(cached client.Object, hash string, body map[string]any) bool {
	if cached.GetAnnotations()[AnnotationDesiredHash] != hash || cached.GetDeletionTimestamp() != nil {
		return false
	}
	raw, err := json.Marshal(cached)
	if err != nil {
		return false
	}
	var have map[string]any
	if err := json.Unmarshal(raw, &have); err != nil {
		return false
	}
	// The type fixes these; status is not applied with the object.
	delete(body, "apiVersion")
	delete(body, "kind")
	delete(body, "status")
	return contains(have, body)
}

// contains tells whether have holds every field of want with want's value:
// maps may hold more keys (fields the server defaulted or others own), lists
// must be as long and hold want's items in order, a null in want is not a
// field.
func contains(have, want any) bool {
	switch w := want.(type) {
	case nil:
		return true
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			if wv == nil {
				continue
			}
			hv, ok := h[k]
			if !ok || !contains(hv, wv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return false
		}
		for i := range w {
			if !contains(h[i], w[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(have, want)
	}
}
