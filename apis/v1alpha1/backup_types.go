package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BackupPhase is where a Backup is in its life.
// +kubebuilder:validation:Enum=Pending;Running;Completed;Failed;Deleting
type BackupPhase string

const (
	BackupPending   BackupPhase = "Pending"
	BackupRunning   BackupPhase = "Running"
	BackupCompleted BackupPhase = "Completed"
	BackupFailed    BackupPhase = "Failed"
	BackupDeleting  BackupPhase = "Deleting"
)

// BackupSpec asks for one full backup of an Application.
// +kubebuilder:validation:XValidation:rule="self.applicationRef == oldSelf.applicationRef && self.storage == oldSelf.storage",message="a Backup's application and storage cannot be changed: create a new Backup"
type BackupSpec struct {
	// ApplicationRef names the Application to back up, in this namespace.
	ApplicationRef LocalObjectReference `json:"applicationRef"`
	// Storage is where the backup is written.
	Storage BackupStorage `json:"storage"`
	// DeletionPolicy says whether deleting the Backup deletes its data.
	// +kubebuilder:validation:Enum=Delete;Retain
	// +kubebuilder:default=Delete
	// +optional
	DeletionPolicy string `json:"deletionPolicy,omitempty"`
}

// BackupStatus is what the backup-controller observes.
type BackupStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +optional
	Phase BackupPhase `json:"phase,omitempty"`
	// Location of the archive in the storage backend.
	// +optional
	Location string `json:"location,omitempty"`
	// Size of the archive in bytes.
	// +optional
	SizeBytes int64 `json:"sizeBytes,omitempty"`
	// SHA256 of the archive, hex-encoded; verified before any restore.
	// +kubebuilder:validation:Pattern=`^([0-9a-f]{64})?$`
	// +optional
	SHA256 string `json:"sha256,omitempty"`
	// PluginVersion and Version of the Application when it was backed up.
	// +optional
	PluginVersion string `json:"pluginVersion,omitempty"`
	// +optional
	Version string `json:"version,omitempty"`
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Error says why the backup failed.
	// +optional
	Error string `json:"error,omitempty"`
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pbk,categories=plinth
// +kubebuilder:printcolumn:name="Application",type=string,JSONPath=`.spec.applicationRef.name`
// +kubebuilder:printcolumn:name="Storage",type=string,JSONPath=`.spec.storage.type`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Size",type=integer,JSONPath=`.status.sizeBytes`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Backup is one full backup: data, configuration and metadata as tar.gz with a
// sha256 checksum.
type Backup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BackupSpec   `json:"spec"`
	Status BackupStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// BackupList is a list of Backups.
type BackupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Backup `json:"items"`
}

// BackupScheduleSpec creates Backups on a cron schedule and prunes old ones.
type BackupScheduleSpec struct {
	// ApplicationRef names the Application to back up, in this namespace.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="applicationRef is immutable: create a new BackupSchedule"
	ApplicationRef LocalObjectReference `json:"applicationRef"`
	// Schedule is a cron expression, for example "0 2 * * *".
	Schedule CronSchedule `json:"schedule"`
	// Storage is where the backups are written.
	Storage BackupStorage `json:"storage"`
	// Retention by count and by age.
	// +optional
	Retention *RetentionPolicy `json:"retention,omitempty"`
	// Suspend stops creating new Backups (retention still runs).
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// BackupScheduleStatus is what the backup-controller observes.
type BackupScheduleStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Phase is Active or Suspended (or Failed when the schedule cannot run).
	// +optional
	Phase string `json:"phase,omitempty"`
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`
	// +optional
	LastSuccessfulTime *metav1.Time `json:"lastSuccessfulTime,omitempty"`
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pbs,categories=plinth
// +kubebuilder:printcolumn:name="Application",type=string,JSONPath=`.spec.applicationRef.name`
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Last",type=date,JSONPath=`.status.lastScheduleTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// BackupSchedule creates Backups of an Application on a schedule.
type BackupSchedule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BackupScheduleSpec   `json:"spec"`
	Status BackupScheduleStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// BackupScheduleList is a list of BackupSchedules.
type BackupScheduleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BackupSchedule `json:"items"`
}
