package pluginregistry

// Part is one of the five ConfigMaps that make up a plugin version.
type Part string

// The parts of a plugin version, in the order they are validated.
const (
	PartManifest     Part = "manifest"
	PartComponents   Part = "components"
	PartPodTemplates Part = "podtemplates"
	PartParams       Part = "params"
	PartOperations   Part = "operations"
)

// Parts lists every part in validation order.
var Parts = []Part{PartManifest, PartComponents, PartPodTemplates, PartParams, PartOperations}

// Key is the ConfigMap data key (and the file name in a plugin folder) that
// holds the part's YAML document.
func (p Part) Key() string { return string(p) + ".yaml" }

// ConfigMapName is the conventional name of a part's ConfigMap:
// <plugin>-<part>-<version>.
func ConfigMapName(plugin string, part Part, version string) string {
	return plugin + "-" + string(part) + "-" + version
}

// PluginVersion is one validated, immutable plugin version.
type PluginVersion struct {
	Manifest     Manifest     `json:"manifest"`
	Components   Components   `json:"components"`
	PodTemplates PodTemplates `json:"podtemplates"`
	Params       Params       `json:"params"`
	Operations   Operations   `json:"operations"`
	// Hash is "sha256:<hex>" over the data of the five ConfigMaps.
	Hash string `json:"hash"`
	// Unrunnable lists, by template name, the operation templates that break
	// the operations contract (a wait for a condition nothing sets, a patch
	// naming a field the API type lacks ...) and why. The version is still
	// served (Applications pinned to it keep running); RenderOperation
	// refuses these templates, and lint refuses a version that has any.
	Unrunnable map[string][]FieldError `json:"unrunnable,omitempty"`
}

// Name is the plugin name (for example "redis").
func (pv *PluginVersion) Name() string { return pv.Manifest.Plugin }

// Version is the plugin version (for example "v1.0.0").
func (pv *PluginVersion) Version() string { return pv.Manifest.Version }

// ---- manifest ----

// Manifest is the manifest part: identity, middleware versions, upgrade
// rules and the names of the other four ConfigMaps.
type Manifest struct {
	Plugin      string `json:"plugin"`
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
	// SupportedVersions are the middleware versions this plugin version runs.
	SupportedVersions []SupportedVersion `json:"supported-versions"`
	// DefaultVersion is used when an Application names none.
	DefaultVersion string `json:"default-version,omitempty"`
	// AdminUser is the middleware's administrative user, written as
	// "username" into every Application's credentials Secret (Redis:
	// "default", PostgreSQL: "postgres"). Default "admin".
	AdminUser string `json:"admin-user,omitempty"`
	// AllowedUpgradeFrom lists the plugin versions (exact, like "v1.0.0", or
	// semver constraints, like ">= v1.0.0, < v1.1.0") an Application may
	// upgrade from to this version (UpgradeApp).
	AllowedUpgradeFrom []string `json:"allowed-upgrade-from,omitempty"`
	Refs               Refs     `json:"refs"`
}

// SupportedVersion is one middleware version and its image.
type SupportedVersion struct {
	Version string `json:"version"`
	Image   string `json:"image"`
	// UpgradeFrom lists the middleware versions an in-place upgrade
	// (UpgradePaaS) to this version may start from. Nil means every lower
	// supported version; an empty list means none.
	UpgradeFrom []string `json:"upgrade-from,omitempty"`
	Deprecated  bool     `json:"deprecated,omitempty"`
}

// Refs names the ConfigMaps of the other four parts.
type Refs struct {
	Components   string `json:"components"`
	PodTemplates string `json:"podtemplates"`
	Params       string `json:"params"`
	Operations   string `json:"operations"`
}

// ---- components ----

// Components is the components part: topologies and component definitions.
type Components struct {
	Topologies []Topology     `json:"topologies"`
	Components []ComponentDef `json:"components"`
}

// Topology is one way to assemble components (standalone, replication ...).
type Topology struct {
	Name        string              `json:"name"`
	Description string              `json:"description,omitempty"`
	Components  []TopologyComponent `json:"components"`
}

// WorkloadSet layouts: how a component's pods map to WorkloadSets.
const (
	WorkloadSetsSingle   = "single"
	WorkloadSetsPerShard = "per-shard"
)

// TopologyComponent places one component definition in a topology.
type TopologyComponent struct {
	// Name of a component definition.
	Name string `json:"name"`
	// Replicas narrows the component's replica range in this topology (per
	// shard when Shards is set).
	Replicas *Range `json:"replicas,omitempty"`
	// Shards, when set, makes one WorkloadSet per shard.
	Shards *Range `json:"shards,omitempty"`
	// WorkloadSets is "single" (default) or "per-shard".
	WorkloadSets string `json:"workloadsets,omitempty"`
	// Failover overrides the component's failover policy in this topology.
	Failover *Failover `json:"failover,omitempty"`
	// Bootstrap, when set, names an action the component-controller runs
	// once, through the ops agent of the component's first pod, when every
	// pod of the component is Ready (forming a Redis Cluster, for example).
	// The component is not Running until it succeeded. See
	// docs/replication.md §3.
	Bootstrap *Bootstrap `json:"bootstrap,omitempty"`
	// Reshard, when set (with Bootstrap, on a per-shard component), names
	// the actions the component-controller runs when the shard count of a
	// bootstrapped component changes: ScaleOut once the new shards' pods are
	// Ready, ScaleIn before the leaving shards' WorkloadSets are deleted
	// (which happens only after it succeeded). They take the bootstrap
	// parameters; members lists every shard that exists (kept or leaving),
	// shards the number to keep. See docs/replication.md §3.
	Reshard *Reshard `json:"reshard,omitempty"`
	// Switchover lists the actions that move the writable role from the
	// designated primary to a chosen replica (the candidate), run in order
	// by the workloadset-controller before a rolling update replaces the
	// primary. Without it the primary is replaced last, with downtime.
	Switchover []SwitchoverStep `json:"switchover,omitempty"`
}

// Switchover targets and the parameters the workloadset-controller passes
// to switchover actions are API constants: plinthv1.SwitchoverOnPrimary,
// plinthv1.SwitchoverOnCandidate, plinthv1.SwitchoverParameters.

// SwitchoverStep is one action of a switchover.
type SwitchoverStep struct {
	// Action names an action the component serves. It must be idempotent.
	Action string `json:"action"`
	// Target is "primary" or "candidate".
	Target string `json:"target"`
}

// Parameters the component-controller passes to a bootstrap action. The
// action must declare all three and require no other.
const (
	// BootstrapMembers is the space-separated host:port of every pod of the
	// component, shard by shard, in ordinal order; host is the pod's stable
	// DNS name <pod>.<headless service>.<namespace>.svc, port the component's
	// first port.
	BootstrapMembers = "members"
	// BootstrapShards is the number of shards (WorkloadSets).
	BootstrapShards = "shards"
	// BootstrapReplicas is the number of pods per shard.
	BootstrapReplicas = "replicas"
)

// BootstrapParameters lists the parameters a bootstrap action receives.
var BootstrapParameters = []string{BootstrapMembers, BootstrapShards, BootstrapReplicas}

// Bootstrap is a topology component's one-time bootstrap action.
type Bootstrap struct {
	// Action names an action of the operations part that the component
	// serves (listed in the component definition's actions). It must be
	// idempotent: it runs again after a failure or a controller restart.
	Action string `json:"action"`
}

// Reshard names a sharded topology component's resharding actions. Both
// must be idempotent and resumable: an interrupted run (a controller
// restart, the call's deadline) is followed by another.
type Reshard struct {
	// ScaleOut joins the shards beyond those the cluster was formed for and
	// moves an even share of the slots (or keys) to them.
	ScaleOut Bootstrap `json:"scaleOut"`
	// ScaleIn moves everything off the shards from the shards parameter on,
	// and detaches their nodes so that they cannot rejoin.
	ScaleIn Bootstrap `json:"scaleIn"`
}

// Range is an inclusive integer range with a default.
type Range struct {
	Min     int32 `json:"min"`
	Max     int32 `json:"max"`
	Default int32 `json:"default"`
}

// ComponentDef defines a set of pods running the same binary.
type ComponentDef struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Replicas    Range     `json:"replicas"`
	Roles       []Role    `json:"roles"`
	Ports       []Port    `json:"ports"`
	Volumes     []Volume  `json:"volumes,omitempty"`
	Services    []Service `json:"services,omitempty"`
	// PodTemplate names a template of the podtemplates part.
	PodTemplate string `json:"podtemplate"`
	// Images overrides the manifest's image per middleware version.
	Images      map[string]string `json:"images,omitempty"`
	StatusProbe StatusProbe       `json:"status-probe"`
	Failover    *Failover         `json:"failover,omitempty"`
	// Actions names the ops-agent actions served on these pods; when any is
	// listed the pods get an ops-agent container.
	Actions []string `json:"actions,omitempty"`
}

// Role is a role a member can report.
type Role struct {
	Name string `json:"name"`
	// Writable marks the role that accepts writes (the primary).
	Writable bool `json:"writable,omitempty"`
	// UpdatePriority orders rolling updates: lower goes first.
	UpdatePriority int32 `json:"update-priority,omitempty"`
}

// Port is a named container port.
type Port struct {
	Name     string `json:"name"`
	Port     int32  `json:"port"`
	Protocol string `json:"protocol,omitempty"`
}

// Volume is a volume mounted into the middleware container.
type Volume struct {
	Name      string `json:"name"`
	MountPath string `json:"mount-path"`
	// Persistent volumes become PVCs (DefaultSize applies); others are emptyDir.
	Persistent  bool   `json:"persistent,omitempty"`
	DefaultSize string `json:"default-size,omitempty"`
}

// Service is a Service the component-controller creates.
type Service struct {
	// Name is appended to the Component name.
	Name string `json:"name"`
	// Ports are port names of the component.
	Ports []string `json:"ports"`
	// Role, when set, selects only members reporting that role.
	Role     string `json:"role,omitempty"`
	Headless bool   `json:"headless,omitempty"`
}

// Parser types of a status probe.
const (
	ParserKeyValue = "keyvalue"
	ParserJSON     = "json"
	ParserRegex    = "regex"
)

// StatusProbe is run by the status agent inside each pod. Its shape follows
// the status agent's probe file (runtimeconfig.Probe); the component
// controller renders Command and Env with the pod's Context and writes it.
type StatusProbe struct {
	// Command is the argv (no shell) the agent runs; templated.
	Command []string `json:"command"`
	// Env is added to the agent's environment; values are templated.
	Env      map[string]string `json:"env,omitempty"`
	Interval string            `json:"interval"`
	Timeout  string            `json:"timeout"`
	// Heartbeat: the report is rewritten at least this often.
	Heartbeat string `json:"heartbeat,omitempty"`
	// Parser is keyvalue ("key:value" or "key=value" lines), json (one
	// object) or regex (Regex's named groups become fields).
	Parser string `json:"parser"`
	Regex  string `json:"regex,omitempty"`
	// RoleField is the field holding the role (default "role"); RoleMap
	// renames middleware roles to the component's roles.
	RoleField string            `json:"role-field,omitempty"`
	RoleMap   map[string]string `json:"role-map,omitempty"`
	// Healthy rules must all hold (besides exit code 0 and a role).
	Healthy []HealthRule `json:"healthy,omitempty"`
	// Details are parsed fields copied into the report (offsets, LSNs ...).
	Details []string `json:"details,omitempty"`
}

// HealthRule requires a field to hold one of Values.
type HealthRule struct {
	Field  string   `json:"field"`
	Values []string `json:"values"`
	// Optional: a missing field does not make the member unhealthy.
	Optional bool `json:"optional,omitempty"`
}

// Failover policies.
const (
	FailoverNone       = "none"
	FailoverController = "controller"
	FailoverMiddleware = "middleware"
)

// Failover says who promotes a replica when the primary fails.
type Failover struct {
	// Policy: none, controller (Plinth creates a Failover Operation after
	// Delay), middleware (Sentinel, Redis Cluster: Plinth only follows).
	Policy string `json:"policy"`
	Delay  string `json:"delay,omitempty"`
	// Template is the operation template the controller runs.
	Template string `json:"template,omitempty"`
}

// ---- podtemplates ----

// PodTemplates is the podtemplates part.
type PodTemplates struct {
	Templates []PodTemplate `json:"templates"`
}

// PodTemplate is a corev1.PodTemplateSpec in YAML with placeholders.
type PodTemplate struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Template    string `json:"template"`
}

// ---- params ----

// Params is the params part: per component, parameters and config files.
type Params struct {
	Components []ComponentParams `json:"components"`
}

// ComponentParams are the parameters and config files of one component.
type ComponentParams struct {
	Component   string       `json:"component"`
	Parameters  []Parameter  `json:"parameters"`
	ConfigFiles []ConfigFile `json:"config-files,omitempty"`
}

// Parameter types.
const (
	TypeString   = "string"
	TypeInt      = "int"
	TypeBool     = "bool"
	TypeEnum     = "enum"
	TypeDuration = "duration"
	TypeQuantity = "quantity"
)

// Parameter is a declared, typed parameter (middleware parameter, operation
// parameter or action parameter). Values are strings, as users write them.
type Parameter struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
	// Default applies when the user gives no value.
	Default  *string `json:"default,omitempty"`
	Required bool    `json:"required,omitempty"`
	// Values are the allowed values of an enum.
	Values []string `json:"values,omitempty"`
	// Pattern is a regular expression the whole value must match.
	Pattern string `json:"pattern,omitempty"`
	// Constraint is a CUE expression the typed value must satisfy, for
	// example ">=0 & <=65535" or =~"^[0-9]+(mb|gb)$".
	Constraint string `json:"constraint,omitempty"`
	// Dynamic parameters are applied without a restart (CONFIG SET, reload);
	// the others need a restart. Middleware parameters only.
	Dynamic bool `json:"dynamic,omitempty"`
	// Secret values are never logged or echoed.
	Secret bool `json:"secret,omitempty"`
}

// ConfigFile is a configuration file rendered from the parameters.
type ConfigFile struct {
	Name      string `json:"name"`
	MountPath string `json:"mount-path"`
	Template  string `json:"template"`
}

// ---- operations ----

// Operations is the operations part: operation templates and the ops-agent
// action catalogue.
type Operations struct {
	Templates []OperationTemplate `json:"templates"`
	Actions   []Action            `json:"actions,omitempty"`
}

// BuiltinOperations are the lifecycle operations every plugin should offer.
var BuiltinOperations = []string{
	"Create", "Delete", "VerticalScaleResource", "VerticalScaleVolume", "HorizontalScale",
	"Stop", "Start", "Restart", "Reload", "Failover", "UpgradeApp", "UpgradePaaS",
	"Backup", "Restore",
}

// OperationTemplate is an ordered list of steps with declared parameters.
type OperationTemplate struct {
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	Parameters  []Parameter `json:"parameters,omitempty"`
	// Timeout bounds the whole operation.
	Timeout string `json:"timeout,omitempty"`
	Steps   []Step `json:"steps"`
}

// Step types.
const (
	StepPatch    = "patch"
	StepResource = "resource"
	StepGRPC     = "grpc"
	StepWait     = "wait"
	// StepSwitchover moves the writable role of a component's WorkloadSets
	// to a replica through the WorkloadSet's own switchover actions.
	StepSwitchover = "switchover"
)

// Step is one step; exactly the block matching Type is set. Every string in
// a step is a template rendered with the operation's Context.
type Step struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Timeout string `json:"timeout"`
	// When, if set, renders to "true" or "false"; false skips the step.
	When     string        `json:"when,omitempty"`
	Patch    *PatchStep    `json:"patch,omitempty"`
	Resource *ResourceStep `json:"resource,omitempty"`
	GRPC     *GRPCStep     `json:"grpc,omitempty"`
	Wait     *WaitStep     `json:"wait,omitempty"`
	// Switchover is the block of a switchover step.
	Switchover *SwitchoverOp `json:"switchover,omitempty"`
}

// PatchStep merges a patch into a plinth resource.
type PatchStep struct {
	// Kind is Application, Component or WorkloadSet.
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Merge is a YAML merge patch with keyed lists: a list item that is a
	// mapping with a "name" is merged into the object's item of that name
	// (other items and the item's other fields stay as they are); every
	// field the patch does not name stays as it is. The operation-controller
	// sends it as a JSON patch guarded by a test of each named item's index.
	Merge string `json:"merge"`
}

// ResourceStep applies or deletes a Kubernetes resource.
type ResourceStep struct {
	// Action is apply or delete.
	Action   string `json:"action"`
	Manifest string `json:"manifest"`
}

// gRPC targets of a step.
const (
	TargetOpsAgent = "ops-agent"
	TargetProcmgr  = "procmgr"
)

// Pod selection policies of a grpc step.
const (
	PolicyOneAtATime = "one-at-a-time"
	PolicyAll        = "all"
	// PolicyOne calls exactly one selected pod (the lowest ordinal).
	PolicyOne = "one"
)

// GRPCStep calls the ops agent or procmgr on selected pods.
type GRPCStep struct {
	// Target is ops-agent or procmgr.
	Target string `json:"target"`
	// Method: ops-agent Execute; procmgr Start, Stop, Restart, Reload, Signal.
	Method string `json:"method"`
	// Action names an ops-agent action (Execute only).
	Action string `json:"action,omitempty"`
	// Args are the action's parameters.
	Args     map[string]string `json:"args,omitempty"`
	Selector Selector          `json:"selector"`
	// Policy is one-at-a-time, all or one.
	Policy string `json:"policy"`
}

// Selector picks pods of a component, optionally by role. The pods are
// chosen when the step starts (from the WorkloadSets' members) and recorded
// in the Operation's status; replicas come before the writable role's pod.
type Selector struct {
	Component string `json:"component"`
	// Role is a role of the component (as the status agents report it).
	Role string `json:"role,omitempty"`
	// Exclude names earlier steps of the same template: pods they called
	// are not chosen again (Restart: the replicas, a switchover, then the
	// pod that was the primary).
	Exclude []string `json:"exclude,omitempty"`
}

// WaitStep waits until a plinth resource (Application, Component,
// WorkloadSet, Backup) has a condition, or a phase, at its current
// generation: a condition or phase written for an older generation does not
// count, so a wait after a patch never sees the state from before it.
// Exactly one of Condition and Phase is set; the condition must be one the
// platform sets on that kind (v1alpha1.WaitableConditions), the phase one of
// the kind's phases (v1alpha1.WaitablePhases).
type WaitStep struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Condition string `json:"condition,omitempty"`
	// Status is "True" (default), "False" or "Unknown".
	Status string `json:"status,omitempty"`
	// Reason, optional, must match the condition's reason too.
	Reason string `json:"reason,omitempty"`
	// Phase waits for status.phase instead of a condition.
	Phase string `json:"phase,omitempty"`
}

// SwitchoverOp moves the writable role of a component to a replica by
// running the WorkloadSet's switchover actions (the plugin's component
// switchover), then waits until the designation has followed. With one
// member, or when the candidate already holds the role, it does nothing.
type SwitchoverOp struct {
	Component string `json:"component"`
	// Candidate is the pod to promote; empty picks the most advanced
	// healthy replica of each WorkloadSet (every shard of a sharded
	// component).
	Candidate string `json:"candidate,omitempty"`
}

// Output choices of an action.
const (
	OutputStdout   = "stdout"
	OutputStderr   = "stderr"
	OutputCombined = "combined"
	OutputNone     = "none"
)

// Action is an ops-agent action: an argv template run inside the pod.
type Action struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Command is the argv; each element is a template over Context (the
	// action's parameters are .Args). Never run through a shell.
	Command    []string    `json:"command"`
	Parameters []Parameter `json:"parameters,omitempty"`
	Timeout    string      `json:"timeout"`
	// Output is what Execute returns: stdout, stderr, combined or none.
	Output string `json:"output,omitempty"`
	// Roles restricts where the action may run (empty: any role).
	Roles []string `json:"roles,omitempty"`
}
