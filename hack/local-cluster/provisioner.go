package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// provisioner is the cluster's dynamic volume provisioner and resizer for the
// plinth-hostpath StorageClass. A PersistentVolume is a folder under
// volumes/ in the state dir, mounted into pods as a hostPath volume. It runs
// on the node (a host process in the cluster's network namespace), like a
// CSI driver's controller and node parts in one:
//   - a pending claim of the class gets a folder and a PV bound to it;
//   - a released PV with reclaim policy Delete loses its folder and is deleted;
//   - a bound claim asking for more storage gets it at once (a folder has no
//     size limit, so "expansion" is the bookkeeping a resizer does: PV
//     capacity, then claim status), which is online expansion.
type provisioner struct {
	client kubernetes.Interface
	dir    string
}

const provisionedByAnnotation = "pv.kubernetes.io/provisioned-by"

func runProvisioner(ctx context.Context, state string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(state, "kubeconfig"))
	if err != nil {
		return err
	}
	cfg.UserAgent = "plinth-local-provisioner"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	p := &provisioner{client: client, dir: filepath.Join(state, "volumes")}
	logf("provisioner: serving StorageClass %s (%s) from %s", storageClassName, provisionerName, p.dir)
	for {
		if err := p.syncAll(ctx); err != nil && ctx.Err() == nil {
			logf("provisioner: %v", err)
		}
		// Wake on any claim or volume change, or every 2 s at the latest.
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if w, err := client.CoreV1().PersistentVolumeClaims("").Watch(wctx, metav1.ListOptions{}); err == nil {
			select {
			case <-w.ResultChan():
			case <-wctx.Done():
			}
			w.Stop()
		} else {
			<-wctx.Done()
		}
		cancel()
		if ctx.Err() != nil {
			return nil
		}
	}
}

func (p *provisioner) syncAll(ctx context.Context) error {
	sc, err := p.client.StorageV1().StorageClasses().Get(ctx, storageClassName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil // up has not created it yet
	}
	if err != nil {
		return err
	}
	pvcs, err := p.client.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	var errs []error
	for i := range pvcs.Items {
		pvc := &pvcs.Items[i]
		if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != storageClassName || pvc.DeletionTimestamp != nil {
			continue
		}
		switch {
		case pvc.Spec.VolumeName == "" && pvc.Status.Phase == corev1.ClaimPending:
			errs = append(errs, p.provision(ctx, sc, pvc))
		case pvc.Status.Phase == corev1.ClaimBound:
			errs = append(errs, p.resize(ctx, pvc))
		}
	}
	pvs, err := p.client.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range pvs.Items {
		pv := &pvs.Items[i]
		if pv.Annotations[provisionedByAnnotation] == provisionerName && pv.Status.Phase == corev1.VolumeReleased &&
			pv.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete {
			errs = append(errs, p.delete(ctx, pv))
		}
	}
	return errors.Join(errs...)
}

func (p *provisioner) provision(ctx context.Context, sc *storagev1.StorageClass, pvc *corev1.PersistentVolumeClaim) error {
	name := "pvc-" + string(pvc.UID)
	size, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok {
		return fmt.Errorf("claim %s/%s asks for no storage size", pvc.Namespace, pvc.Name)
	}
	path := filepath.Join(p.dir, pvc.Namespace+"-"+pvc.Name+"-"+string(pvc.UID)[:8])
	if err := os.MkdirAll(path, 0o777); err != nil {
		return err
	}
	os.Chmod(path, 0o777) // any pod user may write, as on a fresh filesystem with fsGroup
	reclaim := corev1.PersistentVolumeReclaimDelete
	if sc.ReclaimPolicy != nil {
		reclaim = *sc.ReclaimPolicy
	}
	dirType := corev1.HostPathDirectory
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{provisionedByAnnotation: provisionerName},
			Labels:      map[string]string{"plinth.io/local-volume": "true"},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: reclaim,
			StorageClassName:              storageClassName,
			VolumeMode:                    pvc.Spec.VolumeMode,
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path, Type: &dirType}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{nodeName}}},
			}}}},
		},
	}
	if _, err := p.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating %s for claim %s/%s: %w", name, pvc.Namespace, pvc.Name, err)
	}
	logf("provisioner: %s/%s -> %s (%s) at %s", pvc.Namespace, pvc.Name, name, size.String(), path)
	return nil
}

func (p *provisioner) resize(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	want, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok {
		return nil
	}
	have := pvc.Status.Capacity[corev1.ResourceStorage]
	if want.Cmp(have) <= 0 {
		return nil
	}
	pv, err := p.client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if pv.Annotations[provisionedByAnnotation] != provisionerName {
		return nil
	}
	if cur := pv.Spec.Capacity[corev1.ResourceStorage]; cur.Cmp(want) < 0 {
		pv.Spec.Capacity[corev1.ResourceStorage] = want
		if _, err := p.client.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("growing %s: %w", pv.Name, err)
		}
	}
	pvc = pvc.DeepCopy()
	if pvc.Status.Capacity == nil {
		pvc.Status.Capacity = corev1.ResourceList{}
	}
	pvc.Status.Capacity[corev1.ResourceStorage] = want
	pvc.Status.AllocatedResources = corev1.ResourceList{corev1.ResourceStorage: want}
	pvc.Status.AllocatedResourceStatuses = nil
	var conds []corev1.PersistentVolumeClaimCondition
	for _, c := range pvc.Status.Conditions {
		if c.Type != corev1.PersistentVolumeClaimResizing && c.Type != corev1.PersistentVolumeClaimFileSystemResizePending {
			conds = append(conds, c)
		}
	}
	pvc.Status.Conditions = conds
	if _, err := p.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).UpdateStatus(ctx, pvc, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("recording the new size of %s/%s: %w", pvc.Namespace, pvc.Name, err)
	}
	logf("provisioner: %s/%s expanded %s -> %s", pvc.Namespace, pvc.Name, have.String(), want.String())
	return nil
}

func (p *provisioner) delete(ctx context.Context, pv *corev1.PersistentVolume) error {
	if pv.Spec.HostPath != nil {
		path := filepath.Clean(pv.Spec.HostPath.Path)
		if !strings.HasPrefix(path, p.dir+"/") {
			return fmt.Errorf("%s: refusing to delete %s, which is not under %s", pv.Name, path, p.dir)
		}
		if err := os.RemoveAll(path); err != nil {
			return err
		}
	}
	err := p.client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	logf("provisioner: deleted %s", pv.Name)
	return nil
}
