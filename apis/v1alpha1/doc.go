// Package v1alpha1 holds the plinth.io/v1alpha1 API: Application, Component,
// WorkloadSet, Operation, Backup and BackupSchedule.
//
// The types hold data only. Condition types and reasons, well-known labels and
// annotations are constants beside them so that controllers, agents and users'
// tools agree on their spelling.
//
// +kubebuilder:object:generate=true
// +groupName=plinth.io
package v1alpha1
