// Package workloadset is the workloadset-controller's reconciler: it makes a
// WorkloadSet's Pods and PVCs match its spec, reads the status reports the
// pods' status agents write, and summarises them in the WorkloadSet status.
//
// A reconcile fetches the WorkloadSet and runs small phases in order —
// observe (list pods and PVCs, judge new reports), syncRoleLabels,
// validate, syncFinalizer, ensurePVCs, expandVolumes, scaleIn, createPods,
// deleteReleasedPVCs, rollOut — then writes the status once (server-side
// apply, one field manager, skipped when nothing changed but the report
// bookkeeping, which is kept in memory: see reportBook). Children come from
// the pure functions desiredPod and desiredPVC; the rolling-update order
// comes from the pure policy nextPodToUpdate. Nothing waits inside a
// reconcile: every wait is a requeue or a watch event.
//
// Pods are named <workloadset>-<ordinal> and controlled by the WorkloadSet.
// PVCs are named <template>-<pod> and carry the plinth.io/workloadset label
// but no owner reference, so that the garbage collector never deletes them
// behind pvcRetention; the finalizer plinth.io/workloadset-pvcs is present
// only while pvcRetention.whenDeleted is Delete.
//
// # RBAC
//
// The binary's grants are kubebuilder markers in controllers/workloadset/rbac.go;
// `make generate` turns them into its ClusterRole and Role.
package workloadset
