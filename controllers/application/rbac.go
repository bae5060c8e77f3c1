package main

// Least-privilege RBAC of the application-controller, one grant per API call
// its code makes (`make generate` writes
// deploy/kustomize/base/rbac/application-controller/role.yaml from these):
//
//   - applications: get/list/watch (cache), patch (finalizer, SSA); status:
//     patch (status apply); finalizers: update (the Components' controller
//     owner reference blocks owner deletion).
//   - components: get/list/watch (cache), create+patch (server-side apply),
//     delete (a component the topology no longer has).
//   - secrets: get (the credentials Secret, by metadata, uncached), create.
//   - persistentvolumeclaims: deletecollection (WipeOut).
//   - platform namespace: the plugin registry lists and watches the plugin
//     ConfigMaps and patches its verdict on them, records Events there; the
//     Lease of leader election (and its Events).
//   - events.k8s.io events: create, patch (Events on its objects for
//     kubectl describe; docs/application-controller.md, "Events").
//
// +kubebuilder:rbac:groups=plinth.io,resources=applications,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=plinth.io,resources=applications/status,verbs=get;patch
// +kubebuilder:rbac:groups=plinth.io,resources=applications/finalizers,verbs=update
// +kubebuilder:rbac:groups=plinth.io,resources=components,verbs=list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;create
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=deletecollection
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;patch,namespace=plinth-system
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch,namespace=plinth-system
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update,namespace=plinth-system
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
