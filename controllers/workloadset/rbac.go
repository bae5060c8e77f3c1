package main

// Least-privilege RBAC of the workloadset-controller, one grant per API call
// its code makes (`make generate` writes
// deploy/kustomize/base/rbac/workloadset-controller/role.yaml from these):
//
//   - workloadsets: get/list/watch (cache), patch (the PVC finalizer); status:
//     patch (status apply); finalizers: update (pods' controller owner
//     references block owner deletion).
//   - pods: list/watch (cache of Plinth's pods only), create, delete, patch
//     (role label, designation annotations).
//   - persistentvolumeclaims: get (uncached, before a resize), list/watch,
//     create, delete, patch (resize).
//   - storageclasses: get (uncached, only when a template grew).
//   - secrets: get (the controllers' agent client certificate, uncached).
//   - platform namespace: the Lease of leader election (and its Events).
//   - events.k8s.io events: create, patch (Events on its objects for
//     kubectl describe; docs/application-controller.md, "Events").
//
// +kubebuilder:rbac:groups=plinth.io,resources=workloadsets,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=plinth.io,resources=workloadsets/status,verbs=get;patch
// +kubebuilder:rbac:groups=plinth.io,resources=workloadsets/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;create;delete;patch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;create;delete;patch
// +kubebuilder:rbac:groups=storage.k8s.io,resources=storageclasses,verbs=get
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch,namespace=plinth-system
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update,namespace=plinth-system
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
