// Package conditions sets and reads metav1.Conditions on Plinth objects.
//
// Reconcilers collect conditions in memory during a reconcile and write status
// once; these helpers only change the slice they are given. Every condition is
// stamped with the generation it describes.
package conditions
