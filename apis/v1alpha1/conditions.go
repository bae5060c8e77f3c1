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
)

// Condition reasons (CamelCase, stable: tools may match on them).
const (
	ReasonAvailable          = "Available"
	ReasonReconciling        = "Reconciling"
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
)
