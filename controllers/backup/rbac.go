package main

// Least-privilege RBAC of the backup-controller (`make generate` writes
// deploy/kustomize/base/rbac/backup-controller/role.yaml from these). No
// reconciler is registered yet: it only holds its leader-election Lease (and
// records that Lease's Events) in the platform namespace. The reconciler
// adds its grants here.
//
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch,namespace=plinth-system
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update,namespace=plinth-system
