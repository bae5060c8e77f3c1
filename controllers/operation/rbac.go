package main

// Least-privilege RBAC of the operation-controller, one grant per API call
// its code makes (`make generate` writes
// deploy/kustomize/base/rbac/operation-controller/role.yaml from these):
//
//   - operations: get/list/watch (cache), delete (retention); status: patch
//     (status apply).
//   - applications, components, workloadsets: get/list/watch (cache: wait
//     steps, pod selection), patch (patch steps: a JSON patch). Applications:
//     delete (the Delete template's resource step on its own target).
//   - backups, configmaps, services, persistentvolumeclaims, jobs: get
//     (uncached, the owner check before a resource step), patch (apply),
//     delete: exactly the kinds a resource step may act on
//     (internal/operation resourceKinds).
//   - pods: get/list/watch (cache of Plinth's pods: Ready after a restart).
//   - secrets: get (the controllers' agent client certificate, uncached).
//   - events.k8s.io events: create, patch (on Operations and their targets).
//   - platform namespace: the plugin ConfigMaps (the registry's informer)
//     and the Lease of leader election (and its Events).
//
// +kubebuilder:rbac:groups=plinth.io,resources=operations,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups=plinth.io,resources=operations/status,verbs=get;patch
// +kubebuilder:rbac:groups=plinth.io,resources=applications,verbs=get;list;watch;patch;delete
// +kubebuilder:rbac:groups=plinth.io,resources=components;workloadsets,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=plinth.io,resources=backups,verbs=get;patch;delete
// +kubebuilder:rbac:groups="",resources=configmaps;services;persistentvolumeclaims,verbs=get;patch;delete
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;patch;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;patch,namespace=plinth-system
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch,namespace=plinth-system
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update,namespace=plinth-system
