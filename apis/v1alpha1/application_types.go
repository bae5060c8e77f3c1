package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TerminationPolicy says what deleting an Application removes.
// +kubebuilder:validation:Enum=DoNotTerminate;Delete;WipeOut
type TerminationPolicy string

const (
	// TerminationDoNotTerminate refuses deletion until the policy is changed.
	TerminationDoNotTerminate TerminationPolicy = "DoNotTerminate"
	// TerminationDelete removes workloads and Services but keeps PVCs and backups.
	TerminationDelete TerminationPolicy = "Delete"
	// TerminationWipeOut also removes PVCs (backups are always kept).
	TerminationWipeOut TerminationPolicy = "WipeOut"
)

// ApplicationPhase is the summary shown by kubectl get.
// +kubebuilder:validation:Enum=Creating;Running;Updating;Stopping;Stopped;Failed;Abnormal;Deleting
type ApplicationPhase string

const (
	ApplicationCreating ApplicationPhase = "Creating"
	ApplicationRunning  ApplicationPhase = "Running"
	ApplicationUpdating ApplicationPhase = "Updating"
	ApplicationStopping ApplicationPhase = "Stopping"
	ApplicationStopped  ApplicationPhase = "Stopped"
	ApplicationFailed   ApplicationPhase = "Failed"
	ApplicationAbnormal ApplicationPhase = "Abnormal"
	ApplicationDeleting ApplicationPhase = "Deleting"
)

// ApplicationSpec is one middleware instance, as a platform team asks for it.
type ApplicationSpec struct {
	// Plugin names the middleware plugin, for example "redis" or "postgresql".
	// It cannot be changed: create a new Application to use another plugin.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="plugin is immutable: create a new Application to change the middleware"
	Plugin string `json:"plugin"`

	// PluginVersion pins the plugin version (semver, for example v1.0.0).
	// Change it only through an UpgradeApp Operation; the target version must
	// list the current one in allowed-upgrade-from.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^v(0|[1-9][0-9]*)[.](0|[1-9][0-9]*)[.](0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$')",message="pluginVersion must be a semantic version with a leading v, for example v1.0.0"
	PluginVersion string `json:"pluginVersion"`

	// Version is the middleware version, one of the plugin version's
	// supported-versions (for example "7.2" for Redis, "16" for PostgreSQL).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^[0-9A-Za-z][0-9A-Za-z.+_-]*$`
	Version string `json:"version"`

	// Topology is one of the plugin's topologies (for Redis: standalone,
	// replication, sentinel, cluster). It cannot be changed after creation.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="topology is immutable: create a new Application (and restore a backup into it) to change it"
	Topology string `json:"topology"`

	// Components sets each of the topology's components. A component the
	// topology has but this list omits gets the plugin's defaults.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Components []ApplicationComponent `json:"components,omitempty"`

	// TLS encrypts client and replication traffic with certificates from
	// cert-manager.
	// +optional
	TLS *TLSSpec `json:"tls,omitempty"`

	// Monitoring creates a PodMonitor when the Prometheus Operator is installed.
	// +optional
	Monitoring *MonitoringSpec `json:"monitoring,omitempty"`

	// Service sets the client Service.
	// +optional
	Service *ServiceSpec `json:"service,omitempty"`

	// Scheduling places the pods.
	// +optional
	Scheduling *SchedulingSpec `json:"scheduling,omitempty"`

	// PDB creates a PodDisruptionBudget for each component.
	// +optional
	PDB *PDBSpec `json:"pdb,omitempty"`

	// Backup schedules backups of this Application (a BackupSchedule is
	// created and kept in step with this field).
	// +optional
	Backup *ApplicationBackupSpec `json:"backup,omitempty"`

	// TerminationPolicy says what deleting the Application removes:
	// DoNotTerminate refuses deletion, Delete keeps PVCs and backups,
	// WipeOut also removes PVCs. Backups are never removed by deletion.
	// +kubebuilder:default=Delete
	// +optional
	TerminationPolicy TerminationPolicy `json:"terminationPolicy,omitempty"`

	// Stopped scales every pod to zero and keeps the PVCs; setting it back to
	// false starts the pods again with their data.
	// +optional
	Stopped bool `json:"stopped,omitempty"`
}

// ApplicationComponent sets one component of the topology.
type ApplicationComponent struct {
	// Name of the component as the plugin's topology names it (for example
	// "redis", "sentinel", "postgresql").
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=40
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// Replicas is the number of pods (per shard, where the topology has
	// shards). The plugin may narrow the range further.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=64
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// Shards is the number of shards, for topologies that have them (Redis
	// Cluster); each shard is one WorkloadSet.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=128
	// +optional
	Shards *int32 `json:"shards,omitempty"`

	// Resources are the middleware container's CPU and memory requests and limits.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// SidecarResources are the requests and limits of every other container:
	// the init container, the status and ops agents, the plugin's helpers.
	// A value set here replaces that resource's value in each of them (the
	// plugin's values are defaults; an inherited limit below a request set
	// here rises to it, an inherited request above a limit set here falls to
	// it). When set (even {}), a value neither sets is the platform's small
	// default. Unset: as the plugin declares them.
	// +kubebuilder:validation:XValidation:rule="!has(self.claims)",message="sidecarResources cannot name resource claims: set requests and limits only"
	// +optional
	SidecarResources *corev1.ResourceRequirements `json:"sidecarResources,omitempty"`

	// Storage is the data volume of each pod.
	// +optional
	Storage *StorageSpec `json:"storage,omitempty"`

	// Parameters are middleware settings (for example maxmemory or
	// max_connections), validated against the plugin's constraints. Values
	// are strings, as in the middleware's own configuration file.
	// +kubebuilder:validation:MaxProperties=256
	// +optional
	Parameters map[string]string `json:"parameters,omitempty"`
}

// StorageSpec is a pod's data volume.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.size) || !has(self.size) || quantity(string(self.size)).compareTo(quantity(string(oldSelf.size))) >= 0",message="storage size cannot be decreased: volumes can only grow"
type StorageSpec struct {
	// Size of the volume, for example 10Gi. It can grow when the storage
	// class allows volume expansion; it can never shrink.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=24
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).isGreaterThan(quantity('0'))",message="storage size must be greater than zero, for example 10Gi"
	Size resource.Quantity `json:"size"`

	// StorageClassName is the storage class of the PVCs; empty means the
	// cluster's default class.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// TLSSpec turns on TLS for client and replication traffic.
type TLSSpec struct {
	// Enabled turns TLS on.
	Enabled bool `json:"enabled"`
	// IssuerRef names the cert-manager Issuer or ClusterIssuer; empty means a
	// self-signed issuer per Application.
	// +optional
	IssuerRef *IssuerReference `json:"issuerRef,omitempty"`
}

// IssuerReference names a cert-manager issuer.
type IssuerReference struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +kubebuilder:validation:Enum=Issuer;ClusterIssuer
	// +kubebuilder:default=Issuer
	// +optional
	Kind string `json:"kind,omitempty"`
}

// MonitoringSpec turns on metrics scraping.
type MonitoringSpec struct {
	// Enabled creates a PodMonitor for the Application's pods.
	Enabled bool `json:"enabled"`
	// Interval between scrapes, for example 30s.
	// +kubebuilder:validation:Pattern=`^[0-9]+(ms|s|m|h)$`
	// +optional
	Interval string `json:"interval,omitempty"`
}

// ServiceSpec sets the client Service.
type ServiceSpec struct {
	// Type of the client Service.
	// +kubebuilder:validation:Enum=ClusterIP;NodePort;LoadBalancer
	// +kubebuilder:default=ClusterIP
	// +optional
	Type corev1.ServiceType `json:"type,omitempty"`
	// Annotations added to the client Service (for load balancers).
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// SchedulingSpec places the pods of every component.
type SchedulingSpec struct {
	// NodeSelector restricts the nodes pods may run on.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// Affinity is added to the anti-affinity Plinth sets by default for
	// replicated topologies.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
	// Tolerations let pods run on tainted (dedicated) nodes.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// TopologySpreadConstraints spread pods across zones or nodes.
	// +optional
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
}

// PDBSpec configures a PodDisruptionBudget per component.
// +kubebuilder:validation:XValidation:rule="!(has(self.minAvailable) && has(self.maxUnavailable))",message="set at most one of minAvailable and maxUnavailable"
type PDBSpec struct {
	// Enabled creates the PodDisruptionBudgets.
	Enabled bool `json:"enabled"`
	// MinAvailable pods during voluntary disruptions.
	// +optional
	MinAvailable *intstr.IntOrString `json:"minAvailable,omitempty"`
	// MaxUnavailable pods during voluntary disruptions (default 1).
	// +optional
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
}

// ApplicationBackupSpec schedules backups of an Application.
type ApplicationBackupSpec struct {
	// Enabled turns the schedule on.
	Enabled bool `json:"enabled"`
	// Schedule is a cron expression (minute hour day-of-month month day-of-week).
	// +optional
	Schedule CronSchedule `json:"schedule,omitempty"`
	// Retention of the scheduled backups.
	// +optional
	Retention *RetentionPolicy `json:"retention,omitempty"`
	// Storage is where the backups go.
	Storage BackupStorage `json:"storage"`
}

// ApplicationStatus is what Plinth observes of an Application.
type ApplicationStatus struct {
	// ObservedGeneration is the generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Phase summarises the conditions for kubectl get.
	// +optional
	Phase ApplicationPhase `json:"phase,omitempty"`
	// Conditions: Ready, Valid, Progressing, DeletionBlocked.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Ready is "ready/desired" members over all components, for kubectl get.
	// +optional
	Ready string `json:"ready,omitempty"`
	// Components summarises each Component.
	// +listType=map
	// +listMapKey=name
	// +optional
	Components []ComponentSummary `json:"components,omitempty"`
	// Endpoints to connect to.
	// +listType=map
	// +listMapKey=name
	// +optional
	Endpoints []Endpoint `json:"endpoints,omitempty"`
	// CredentialsSecret names the Secret holding the generated passwords.
	// +optional
	CredentialsSecret string `json:"credentialsSecret,omitempty"`
	// PluginVersion and Version are the versions currently running: they
	// move to spec.pluginVersion and spec.version only once the rollout has
	// finished, when every Component has observed its spec carrying them
	// and is Ready running them (its own status.pluginVersion and
	// status.version). While a change rolls out they keep the old values;
	// they are empty until the Application first becomes Running.
	// +optional
	PluginVersion string `json:"pluginVersion,omitempty"`
	// +optional
	Version string `json:"version,omitempty"`
}

// ComponentSummary is one Component as seen from its Application.
type ComponentSummary struct {
	Name string `json:"name"`
	// +optional
	Phase ComponentPhase `json:"phase,omitempty"`
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`
}

// Endpoint is a way in: a Service and port.
type Endpoint struct {
	// Name of the endpoint, for example "redis-rw".
	Name string `json:"name"`
	// Service is the Service name in the Application's namespace.
	Service string `json:"service"`
	// Port number.
	Port int32 `json:"port"`
	// Role the Service selects, if any.
	// +optional
	Role string `json:"role,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=papp;papps,categories=plinth
// +kubebuilder:printcolumn:name="Plugin",type=string,JSONPath=`.spec.plugin`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.spec.version`
// +kubebuilder:printcolumn:name="Topology",type=string,JSONPath=`.spec.topology`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.ready`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Application is one middleware instance (a Redis or a PostgreSQL, say) in a
// namespace. Short name papp: "app" is taken by Argo CD's Application.
type Application struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ApplicationSpec   `json:"spec"`
	Status ApplicationStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ApplicationList is a list of Applications.
type ApplicationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Application `json:"items"`
}
