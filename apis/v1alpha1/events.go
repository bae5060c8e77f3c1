package v1alpha1

// Event reasons and actions (events.k8s.io/v1) the controllers record on
// Applications, Components and WorkloadSets: what a user should see in
// `kubectl describe`. Notes never carry a secret; agent output in a note is
// redacted first (internal/agentrun).
const (
	// EventReasonCreated: a child was created (a Component, a WorkloadSet,
	// a Pod).
	EventReasonCreated = "Created"
	// EventReasonUpdated: a child's spec other than its size changed (a
	// new template or parameters: the child rolls it out).
	EventReasonUpdated = "Updated"
	// EventReasonScaled: the number of replicas or shards of a child
	// changed (or, on a WorkloadSet, a pod was added or removed for it).
	EventReasonScaled = "Scaled"
	// EventReasonSwitchoverIssued: the switchover actions that move the
	// writable role to a replica were run.
	EventReasonSwitchoverIssued = "SwitchoverIssued"
	// EventReasonSwitchoverFinished: another member holds the writable role
	// (the designated primary changed).
	EventReasonSwitchoverFinished = "SwitchoverFinished"
	// EventReasonSwitchoverFailed (Warning): a switchover action failed.
	EventReasonSwitchoverFailed = "SwitchoverFailed"
	// EventReasonRolloutStep: a pod was replaced to roll out a new
	// template.
	EventReasonRolloutStep = "RolloutStep"
	// EventReasonSpecRefused (Warning): the spec cannot be acted on; the
	// note says why.
	EventReasonSpecRefused = "SpecRefused"
	// EventReasonOperationStarted, ...Succeeded, ...Failed (Warning) and
	// ...Cancelled are recorded on an Operation and on its target
	// Application; EventReasonOperationStep on the Operation for each step
	// that finished.
	EventReasonOperationStarted   = "OperationStarted"
	EventReasonOperationSucceeded = "OperationSucceeded"
	EventReasonOperationFailed    = "OperationFailed"
	EventReasonOperationCancelled = "OperationCancelled"
	EventReasonOperationStep      = "OperationStep"
)

// Event actions: what the controller did (events.k8s.io/v1 requires one).
const (
	EventActionCreate     = "Create"
	EventActionUpdate     = "Update"
	EventActionScale      = "Scale"
	EventActionSwitchover = "Switchover"
	EventActionReplace    = "Replace"
	EventActionValidate   = "Validate"
)
