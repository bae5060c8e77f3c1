// Package application is the application-controller's reconciler: it
// resolves the plugin version an Application pins, validates the Application
// against it, creates one Component per topology component, generates the
// credentials Secret, enforces the termination policy and aggregates the
// Components' status into the Application's.
//
// The decisions are pure functions (plan, desiredComponent, aggregate,
// endpoints) with table tests; Reconciler only reads, applies and writes
// status once per reconcile.
package application
