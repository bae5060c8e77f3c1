package v1alpha1

// Condition types. Every kind has at least Ready.
const (
	// ConditionReady says whether the object is doing what its spec asks.
	ConditionReady = "Ready"
	// ConditionValid says whether the spec passed plugin-level validation.
	ConditionValid = "Valid"
	// ConditionProgressing says whether a change is being rolled out.
	ConditionProgressing = "Progressing"
	// ConditionDeletionBlocked is True while terminationPolicy DoNotTerminate
	// keeps an Application from being deleted.
	ConditionDeletionBlocked = "DeletionBlocked"
	// ConditionVolumeExpansion reports a PVC resize that is pending or refused.
	ConditionVolumeExpansion = "VolumeExpansion"
	// ConditionSucceeded is set on finished Operations and Backups.
	ConditionSucceeded = "Succeeded"
	// ConditionBootstrapped is set on Components whose topology names a
	// bootstrap action: True once it succeeded (it never runs again for the
	// Component); the Component is not Running before.
	ConditionBootstrapped = "Bootstrapped"
	// ConditionResharding is set on Components whose topology names reshard
	// actions: True while the shard count of the formed cluster changes
	// (the reason says which way, or why it is stuck), False once the
	// cluster has the shards the spec asks for.
	ConditionResharding = "Resharding"
)

// Condition reasons (CamelCase, stable: tools may match on them).
const (
	ReasonAvailable   = "Available"
	ReasonReconciling = "Reconciling"
	// ReasonReconcileFailed: a pass ended half-way on an error that a retry
	// may fix (for example a child the API server refused); the message
	// names the phase and the error, and observedGeneration stays at the
	// generation last acted on in full.
	ReasonReconcileFailed    = "ReconcileFailed"
	ReasonCreating           = "Creating"
	ReasonUpdating           = "Updating"
	ReasonStopped            = "Stopped"
	ReasonMembersNotReady    = "MembersNotReady"
	ReasonPluginNotFound     = "PluginNotFound"
	ReasonPluginInvalid      = "PluginInvalid"
	ReasonTopologyNotFound   = "TopologyNotFound"
	ReasonInvalidComponents  = "InvalidComponents"
	ReasonUnsupportedVersion = "UnsupportedVersion"
	ReasonInvalidParameters  = "InvalidParameters"
	ReasonUpgradeNotAllowed  = "UpgradeNotAllowed"
	ReasonRenderFailed       = "RenderFailed"
	ReasonDoNotTerminate     = "DoNotTerminate"
	ReasonDeleting           = "Deleting"
	ReasonValidated          = "Validated"
	ReasonExpansionPending   = "ExpansionPending"
	ReasonExpansionRefused   = "ExpansionRefused"
	ReasonStepFailed         = "StepFailed"
	// ReasonQueued: an Operation waits for others on its target.
	ReasonQueued = "Queued"
	// ReasonRunning: an Operation runs its steps.
	ReasonRunning = "Running"
	// ReasonDryRun: a dry-run Operation recorded its plan and changed nothing.
	ReasonDryRun             = "DryRun"
	ReasonTimedOut           = "TimedOut"
	ReasonCancelled          = "Cancelled"
	ReasonCompleted          = "Completed"
	ReasonChecksumMismatch   = "ChecksumMismatch"
	ReasonStorageUnavailable = "StorageUnavailable"
	ReasonInvalidSpec        = "InvalidSpec"
	ReasonRollingUpdate      = "RollingUpdate"
	ReasonScaling            = "Scaling"
	// ReasonMultiplePrimaries: more than one member reports the writable role.
	ReasonMultiplePrimaries = "MultiplePrimaries"
	// ReasonNoPrimary: the members exist but none can be designated primary yet.
	ReasonNoPrimary = "NoPrimary"
	// Bootstrapped condition reasons.
	ReasonWaitingForMembers  = "WaitingForMembers"
	ReasonBootstrapSucceeded = "BootstrapSucceeded"
	ReasonBootstrapFailed    = "BootstrapFailed"
	ReasonAgentUnavailable   = "AgentUnavailable"
	// ReasonBootstrapping: the Component is not Ready because its
	// bootstrap action has not succeeded yet.
	ReasonBootstrapping = "Bootstrapping"
	// Resharding condition reasons. ReasonScalingOut and ReasonScalingIn:
	// shards are being added or removed (waiting for pods, or the action
	// runs); ReasonReshardFailed: the last run failed and is retried;
	// ReasonResharded: nothing to do.
	ReasonScalingOut    = "ScalingOut"
	ReasonScalingIn     = "ScalingIn"
	ReasonReshardFailed = "ReshardFailed"
	ReasonResharded     = "Resharded"
	// ReasonResharding: the Component is not Ready while it reshards.
	ReasonResharding = "Resharding"
)

// WaitableConditions are the condition types the platform sets, by kind:
// an operation template's wait step may only name these (plugin lint
// refuses others).
var WaitableConditions = map[string][]string{
	"Application": {ConditionReady, ConditionValid, ConditionProgressing},
	"Component":   {ConditionReady, ConditionBootstrapped, ConditionResharding},
	"WorkloadSet": {ConditionReady, ConditionProgressing, ConditionVolumeExpansion},
	"Backup":      {ConditionSucceeded},
}

// WaitablePhases are the phases a wait step may name, by kind.
var WaitablePhases = map[string][]string{
	"Application": {string(ApplicationCreating), string(ApplicationRunning), string(ApplicationUpdating), string(ApplicationStopping), string(ApplicationStopped), string(ApplicationFailed), string(ApplicationAbnormal)},
	"Component":   componentPhases,
	"WorkloadSet": componentPhases,
	"Backup":      {string(BackupPending), string(BackupRunning), string(BackupCompleted), string(BackupFailed)},
}

var componentPhases = []string{string(ComponentCreating), string(ComponentRunning), string(ComponentUpdating), string(ComponentStopping), string(ComponentStopped), string(ComponentFailed), string(ComponentAbnormal)}
