// Package operation is the operation-controller's reconciler: it runs an
// Operation's template, taken from the target Application's pinned plugin
// version, one step at a time. Every pass writes the status once (the
// skeleton's deferred write); the step about to run is persisted as Running
// before it runs, and each pod a step calls is recorded before the call, so a
// restarted controller resumes where it was and never repeats a finished step
// or call. Operations on one target run one at a time in creation order;
// those on different targets run in parallel. docs/operations.md describes
// the behaviour.
package operation
