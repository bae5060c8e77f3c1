package workloadset

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/conditions"
	"github.com/plinth-io/plinth/internal/skeleton"
)

// expandVolumes grows existing PVCs to their template's size. It refuses to
// shrink, and refuses to expand when the PVC's storage class does not allow
// it, with a VolumeExpansion=False condition that says why. It never blocks
// the other phases.
func (r *Reconciler) expandVolumes(ctx context.Context, s *scope) (skeleton.Result, error) {
	var refused, pending []string
	classes := map[string]*storagev1.StorageClass{}
	for _, pvc := range sortedPVCs(s) {
		vct := s.templateOf(pvc.Name)
		if vct == nil || pvc.DeletionTimestamp != nil {
			continue
		}
		cur := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
		switch vct.Size.Cmp(cur) {
		case -1:
			refused = append(refused, fmt.Sprintf("PVC %s requests %s; shrinking it to %s is not supported (restore a backup into a new Application to shrink)", pvc.Name, cur.String(), vct.Size.String()))
			continue
		case 0:
			if capacity, ok := pvc.Status.Capacity[corev1.ResourceStorage]; ok && capacity.Cmp(cur) < 0 {
				pending = append(pending, fmt.Sprintf("PVC %s is resizing to %s (capacity %s)", pvc.Name, cur.String(), capacity.String()))
			}
			continue
		}
		if why, err := r.expansionRefused(ctx, pvc, classes); err != nil {
			return skeleton.Result{}, err
		} else if why != "" {
			refused = append(refused, fmt.Sprintf("PVC %s cannot grow from %s to %s: %s", pvc.Name, cur.String(), vct.Size.String(), why))
			continue
		}
		if pvc.Status.Phase != corev1.ClaimBound {
			pending = append(pending, fmt.Sprintf("PVC %s is not bound yet; it grows to %s once it is", pvc.Name, vct.Size.String()))
			continue
		}
		s.log.Info("expanding a PVC", "pvc", pvc.Name, "from", cur.String(), "to", vct.Size.String())
		patch := fmt.Appendf(nil, `{"spec":{"resources":{"requests":{"storage":%q}}}}`, vct.Size.String())
		if err := r.client.Patch(ctx, pvc, client.RawPatch(types.MergePatchType, patch)); err != nil {
			if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
				refused = append(refused, fmt.Sprintf("PVC %s cannot grow to %s: %v", pvc.Name, vct.Size.String(), err))
				continue
			}
			return skeleton.Result{}, fmt.Errorf("expanding PVC %s: %w", pvc.Name, err)
		}
		pending = append(pending, fmt.Sprintf("PVC %s is resizing to %s", pvc.Name, vct.Size.String()))
	}

	var res skeleton.Result
	conds := &s.ws.Status.Conditions
	gen := s.ws.Generation
	switch {
	case len(refused) > 0:
		conditions.MarkFalse(conds, gen, plinthv1.ConditionVolumeExpansion, plinthv1.ReasonExpansionRefused, strings.Join(append(refused, pending...), "; "))
	case len(pending) > 0:
		conditions.MarkFalse(conds, gen, plinthv1.ConditionVolumeExpansion, plinthv1.ReasonExpansionPending, strings.Join(pending, "; "))
		res = skeleton.Requeue(expansionRecheck)
	case conditions.Get(*conds, plinthv1.ConditionVolumeExpansion) != nil:
		conditions.MarkTrue(conds, gen, plinthv1.ConditionVolumeExpansion, plinthv1.ReasonCompleted, "every PVC requests the size of its template")
	}
	return res, nil
}

// expansionRefused says why the PVC's storage class does not allow
// expansion, or "" when it does. Storage classes are read uncached (this
// runs only when a template grew), so the controller needs only "get".
func (r *Reconciler) expansionRefused(ctx context.Context, pvc *corev1.PersistentVolumeClaim, cache map[string]*storagev1.StorageClass) (string, error) {
	name := ""
	if pvc.Spec.StorageClassName != nil {
		name = *pvc.Spec.StorageClassName
	}
	if name == "" {
		return "it has no storage class, so expansion cannot be checked or done", nil
	}
	sc, ok := cache[name]
	if !ok {
		sc = &storagev1.StorageClass{}
		if err := r.apiReader.Get(ctx, client.ObjectKey{Name: name}, sc); err != nil {
			if apierrors.IsNotFound(err) {
				sc = nil
			} else {
				return "", fmt.Errorf("reading storage class %s: %w", name, err)
			}
		}
		cache[name] = sc
	}
	if sc == nil {
		return fmt.Sprintf("storage class %s does not exist", name), nil
	}
	if sc.AllowVolumeExpansion == nil || !*sc.AllowVolumeExpansion {
		return fmt.Sprintf("storage class %s does not allow volume expansion (allowVolumeExpansion is not true); ask the cluster administrator to enable it or use a class that does", name), nil
	}
	return "", nil
}

// templateOf returns the volume claim template a PVC of this WorkloadSet
// was made from.
func (s *scope) templateOf(pvcName string) *plinthv1.VolumeClaimTemplate {
	for i := range s.ws.Spec.VolumeClaimTemplates {
		vct := &s.ws.Spec.VolumeClaimTemplates[i]
		if pod, ok := strings.CutPrefix(pvcName, vct.Name+"-"); ok {
			if _, ok := ordinalOf(s.ws, pod); ok {
				return vct
			}
		}
	}
	return nil
}

func sortedPVCs(s *scope) []*corev1.PersistentVolumeClaim {
	out := make([]*corev1.PersistentVolumeClaim, 0, len(s.pvcs))
	for _, p := range s.pvcs {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *corev1.PersistentVolumeClaim) int { return strings.Compare(a.Name, b.Name) })
	return out
}
