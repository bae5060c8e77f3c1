// Package ctrlmanager is the shared shape of every Plinth controller binary:
// one cobra command whose flags set the worker count, the per-reconcile
// deadline, the API client's QPS and burst, leader election, probes, metrics
// and image rewrites; it builds a controller-runtime manager from them and
// hands it to the binary's explicit setup function.
//
// Each controller binary gets its own Lease (<name>.plinth.io), its own
// workqueues and worker pools and its own client budget, so that a stuck
// controller never starves another.
package ctrlmanager
