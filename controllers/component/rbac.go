package main

// Least-privilege RBAC of the component-controller, one grant per API call
// its code makes (`make generate` writes
// deploy/kustomize/base/rbac/component-controller/role.yaml from these):
//
//   - components: get/list/watch (cache); status: patch (status apply);
//     finalizers: update (children's controller owner references block
//     owner deletion).
//   - workloadsets, services, poddisruptionbudgets: get/list/watch (cache),
//     create+patch (server-side apply), delete (shards gone, Services and
//     PDBs the plugin no longer declares).
//   - configmaps, serviceaccounts, roles, rolebindings: get/list/watch (cache),
//     create+patch (server-side apply).
//   - secrets: list/watch (cache of Plinth's Secrets only: agent CA and
//     certificates, credentials), create (the CA), update (replacing an
//     unusable CA), patch (certificates, server-side apply).
//   - pods get/patch: held only so that it may grant them to the agents' Role
//     (Kubernetes lets a controller grant only what it holds itself).
//   - platform namespace: the plugin registry lists and watches the plugin
//     ConfigMaps and patches its verdict on them, records Events there; the
//     Lease of leader election (and its Events).
//   - events.k8s.io events: create, patch (Events on its objects for
//     kubectl describe; docs/application-controller.md, "Events").
//   - operations: create (the reload phase, reload.go: an automatic Reload
//     Operation when dynamic parameters change; never read, so not cached).
//
// +kubebuilder:rbac:groups=plinth.io,resources=components,verbs=get;list;watch
// +kubebuilder:rbac:groups=plinth.io,resources=components/status,verbs=get;patch
// +kubebuilder:rbac:groups=plinth.io,resources=components/finalizers,verbs=update
// +kubebuilder:rbac:groups=plinth.io,resources=workloadsets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=configmaps;serviceaccounts,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;patch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;patch,namespace=plinth-system
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch,namespace=plinth-system
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update,namespace=plinth-system
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=plinth.io,resources=operations,verbs=create
