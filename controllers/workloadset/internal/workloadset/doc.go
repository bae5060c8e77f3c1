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
// The rules this controller needs (also as kubebuilder markers below):
//
//	plinth.io        workloadsets                get list watch patch update
//	plinth.io        workloadsets/status         get patch update
//	""               pods                        get list watch create delete patch
//	""               persistentvolumeclaims      get list watch create delete patch
//	""               events                      create patch
//	events.k8s.io    events                      create patch
//	storage.k8s.io   storageclasses              get
//	coordination.k8s.io leases                   get list watch create update patch (leader election)
//
// +kubebuilder:rbac:groups=plinth.io,resources=workloadsets,verbs=get;list;watch;patch;update
// +kubebuilder:rbac:groups=plinth.io,resources=workloadsets/status,verbs=get;patch;update
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;create;delete;patch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;create;delete;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=storage.k8s.io,resources=storageclasses,verbs=get
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch
package workloadset
