// Package deadline bounds every reconcile with a context deadline, so that one
// slow object cannot hold a worker for ever. Reconcilers must honour their
// context; work longer than the deadline is split into steps that requeue.
package deadline
