// Package skeleton is the one shape every Plinth reconciler has (Cluster
// API's machineset controller is the model):
//
//  1. fetch the object (gone: nothing to do);
//  2. build the pass's scope (what was read, the status being built);
//  3. run a list of small phase functions in order, merging their requeue
//     requests, until one stops the pass or fails;
//  4. write the status once, in a deferred step that is told how the pass
//     went (Outcome), so observedGeneration moves only after a pass that
//     acted on the whole spec.
//
// A controller supplies the parts as a Controller value; the skeleton knows
// nothing about any kind. Status writes use internal/ssa (server-side apply
// under the binary's one field manager, skipped when nothing changed).
package skeleton
