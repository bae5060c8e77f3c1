// Package componentctrl reconciles Components: it renders, from the
// Component's pinned plugin version, everything its pods need — the
// configuration ConfigMaps (middleware config files and the in-pod runtime's
// files), the client, headless and role Services, the agents' ServiceAccount
// and Role (get/patch on exactly the component's own pods), a
// PodDisruptionBudget, the agents' mutual-TLS material, and one WorkloadSet per
// shard with a fully rendered pod template — and summarises the WorkloadSets'
// status into the Component's.
//
// Children are built by pure desired<Kind> functions and applied with
// server-side apply under one field manager; status is written once per
// reconcile.
package componentctrl
