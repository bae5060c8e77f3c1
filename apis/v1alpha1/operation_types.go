package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// OperationPhase is where an Operation is in its life.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;Cancelled
type OperationPhase string

const (
	OperationPending   OperationPhase = "Pending"
	OperationRunning   OperationPhase = "Running"
	OperationSucceeded OperationPhase = "Succeeded"
	OperationFailed    OperationPhase = "Failed"
	OperationCancelled OperationPhase = "Cancelled"
)

// StepPhase is where one step is.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;Skipped
type StepPhase string

const (
	StepPending   StepPhase = "Pending"
	StepRunning   StepPhase = "Running"
	StepSucceeded StepPhase = "Succeeded"
	StepFailed    StepPhase = "Failed"
	StepSkipped   StepPhase = "Skipped"
)

// TargetReference names the object an Operation acts on, in its namespace.
type TargetReference struct {
	// APIGroup of the target; default plinth.io.
	// +kubebuilder:default=plinth.io
	// +optional
	APIGroup string `json:"apiGroup,omitempty"`
	// Kind of the target; default Application.
	// +kubebuilder:validation:Enum=Application;Component;WorkloadSet
	// +kubebuilder:default=Application
	// +optional
	Kind string `json:"kind,omitempty"`
	// Name of the target.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// OperationSpec asks for one day-2 action. It cannot be changed once created,
// except to cancel it.
// +kubebuilder:validation:XValidation:rule="self.targetRef == oldSelf.targetRef && self.templateRef == oldSelf.templateRef && ((!has(self.parameters) && !has(oldSelf.parameters)) || (has(self.parameters) && has(oldSelf.parameters) && self.parameters == oldSelf.parameters)) && (has(self.dryRun) ? self.dryRun : false) == (has(oldSelf.dryRun) ? oldSelf.dryRun : false)",message="an Operation cannot be changed once created (only spec.cancel can be set): create a new Operation instead"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.cancel) || !oldSelf.cancel || (has(self.cancel) && self.cancel)",message="a cancelled Operation cannot be un-cancelled"
type OperationSpec struct {
	// TargetRef is the object to act on (usually an Application).
	TargetRef TargetReference `json:"targetRef"`
	// TemplateRef names an operation template of the target's pinned plugin
	// version: Create, Delete, VerticalScaleResource, VerticalScaleVolume,
	// HorizontalScale, Stop, Start, Restart, Reload, Failover, UpgradeApp,
	// UpgradePaaS, Backup, Restore, or one the plugin adds.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9-]*$`
	TemplateRef string `json:"templateRef"`
	// Parameters fill the template's declared parameters; they are validated
	// against the template before any step runs.
	// +kubebuilder:validation:MaxProperties=64
	// +optional
	Parameters map[string]string `json:"parameters,omitempty"`
	// TTLSecondsAfterFinished deletes the Operation this long after it ends
	// (default: the controller's retention settings).
	// +kubebuilder:validation:Minimum=0
	// +optional
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
	// TimeoutSeconds bounds the whole Operation; every step also has its own
	// timeout from the template.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	// +optional
	TimeoutSeconds *int32 `json:"timeoutSeconds,omitempty"`
	// Cancel stops the Operation before its next step; the running step is
	// interrupted where the step type allows it. Ends as Cancelled.
	// +optional
	Cancel bool `json:"cancel,omitempty"`
	// DryRun records the plan (each step rendered, the pods each step would
	// call, in order) in the status and changes nothing; the Operation ends
	// Succeeded with reason DryRun.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
}

// StepTarget is one pod (or WorkloadSet) a step acts on. It is recorded
// before the step calls it, so a resumed step knows what it has done.
type StepTarget struct {
	// Name of the pod (grpc steps) or WorkloadSet (switchover steps).
	Name string `json:"name"`
	// +optional
	Phase StepPhase `json:"phase,omitempty"`
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Baseline is what the step read before its call, to tell after a
	// controller restart whether the call happened: procmgr's restart count
	// before a Restart; the candidate pod of a switchover is in Message.
	// +optional
	Baseline int64 `json:"baseline,omitempty"`
	// Detail is what the target is about: the switchover candidate, the
	// procmgr PID before a Restart.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Detail string `json:"detail,omitempty"`
	// Message says what happened (never a secret).
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
}

// StepStatus records one step.
type StepStatus struct {
	// Name of the step in the template.
	Name string `json:"name"`
	// Type of the step (patch, resource, grpc, wait).
	// +optional
	Type string `json:"type,omitempty"`
	// +optional
	Phase StepPhase `json:"phase,omitempty"`
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Attempts made so far.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// Message says what happened (never a secret).
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	Message string `json:"message,omitempty"`
	// Targets are the pods (or WorkloadSets) the step acts on, in the order
	// it calls them, chosen when the step starts.
	// +kubebuilder:validation:MaxItems=256
	// +listType=atomic
	// +optional
	Targets []StepTarget `json:"targets,omitempty"`
}

// OperationStatus is the audit record of an Operation.
type OperationStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +optional
	Phase OperationPhase `json:"phase,omitempty"`
	// CurrentStep is the index of the step running or about to run; it is
	// persisted before the step runs, so a restarted controller resumes there.
	// +optional
	CurrentStep int32 `json:"currentStep,omitempty"`
	// Steps, one record per template step.
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	Steps []StepStatus `json:"steps,omitempty"`
	// QueuePosition is how many Operations on the same target run or wait
	// before this one (0 once it runs).
	// +optional
	QueuePosition int32 `json:"queuePosition,omitempty"`
	// PluginVersion is the plugin version whose template the Operation runs,
	// fixed when it starts (an upgrade during the Operation does not change
	// its steps).
	// +optional
	PluginVersion string `json:"pluginVersion,omitempty"`
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Error says why the Operation failed.
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	Error string `json:"error,omitempty"`
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pop;pops,categories=plinth
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.spec.targetRef.name`
// +kubebuilder:printcolumn:name="Template",type=string,JSONPath=`.spec.templateRef`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Step",type=integer,JSONPath=`.status.currentStep`
// +kubebuilder:printcolumn:name="Queue",type=integer,JSONPath=`.status.queuePosition`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Operation is the one entry point and audit record of a day-2 action.
type Operation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   OperationSpec   `json:"spec"`
	Status OperationStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// OperationList is a list of Operations.
type OperationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Operation `json:"items"`
}
