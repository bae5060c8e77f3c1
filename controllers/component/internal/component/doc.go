// Package component reconciles Components: it renders, from the
// Component's pinned plugin version, everything its pods need — the
// configuration ConfigMaps (middleware config files and the in-pod runtime's
// files), the client, headless and role Services, the agents' ServiceAccount
// and Role (get/patch on exactly the component's own pods), a
// PodDisruptionBudget, the agents' mutual-TLS material, and one WorkloadSet per
// shard with a fully rendered pod template — and summarises the WorkloadSets'
// status into the Component's.
//
// Children are built by pure desired<Kind> functions and applied with
// server-side apply under one field manager, and only when the informer cache
// shows the apply would change something (ssa.Applier.ApplyIfChanged: the
// child's plinth.io/desired-hash annotation and every applied field); every
// kind is watched, so a child changed by someone else is reconciled and put
// back. A reconcile of an unchanged Component writes nothing. Status is
// written once per reconcile, when it changed.
package component
