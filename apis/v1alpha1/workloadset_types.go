package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// PodManagementPolicy says whether pods are created one after another or all at once.
// +kubebuilder:validation:Enum=Ordered;Parallel
type PodManagementPolicy string

const (
	// OrderedPodManagement creates pod N only once pods 0..N-1 are ready.
	OrderedPodManagement PodManagementPolicy = "Ordered"
	// ParallelPodManagement creates every missing pod at once.
	ParallelPodManagement PodManagementPolicy = "Parallel"
)

// PVCRetentionRule says whether a PVC is kept.
// +kubebuilder:validation:Enum=Retain;Delete
type PVCRetentionRule string

const (
	PVCRetain PVCRetentionRule = "Retain"
	PVCDelete PVCRetentionRule = "Delete"
)

// PVCRetentionPolicy says when PVCs go away with their pods.
type PVCRetentionPolicy struct {
	// WhenScaled applies to PVCs of pods removed by scale-in.
	// +kubebuilder:default=Retain
	// +optional
	WhenScaled PVCRetentionRule `json:"whenScaled,omitempty"`
	// WhenDeleted applies to PVCs when the WorkloadSet is deleted.
	// +kubebuilder:default=Retain
	// +optional
	WhenDeleted PVCRetentionRule `json:"whenDeleted,omitempty"`
}

// VolumeClaimTemplate is one PVC per pod, named <template>-<pod>.
type VolumeClaimTemplate struct {
	// Name of the volume in the pod template.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// Size requested.
	Size resource.Quantity `json:"size"`
	// StorageClassName; empty means the cluster default.
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
	// AccessModes, default ReadWriteOnce.
	// +optional
	AccessModes []corev1.PersistentVolumeAccessMode `json:"accessModes,omitempty"`
}

// RoleSpec is a role the plugin declares for the pods of a WorkloadSet.
type RoleSpec struct {
	// Name as the status agent reports it (primary, replica, master, slave ...).
	Name string `json:"name"`
	// UpdatePriority orders rolling updates: lower first. The writable role
	// has the highest priority so it is updated last, after a switchover.
	// +optional
	UpdatePriority int32 `json:"updatePriority,omitempty"`
	// Writable marks the role that accepts writes (at most one pod holds it).
	// +optional
	Writable bool `json:"writable,omitempty"`
}

// SwitchoverStep is one ops-agent action of a switchover.
type SwitchoverStep struct {
	// Action names an action the pods' ops agent serves.
	// +kubebuilder:validation:MinLength=1
	Action string `json:"action"`
	// Target is the pod the action runs on: the current primary or the
	// candidate replica taking over.
	// +kubebuilder:validation:Enum=primary;candidate
	Target string `json:"target"`
	// Parameters names the values the controller passes to the action
	// (candidate, candidateHost, primary, primaryHost): those it declares.
	// +optional
	Parameters []string `json:"parameters,omitempty"`
}

// Switchover targets: the pod a SwitchoverStep runs on.
const (
	SwitchoverOnPrimary   = "primary"
	SwitchoverOnCandidate = "candidate"
)

// Parameters the workloadset-controller passes to switchover actions (each
// only if the step names it in SwitchoverStep.Parameters).
const (
	// SwitchoverCandidate and SwitchoverCandidateHost are the pod name and
	// stable DNS name (<pod>.<headless service>.<namespace>.svc) of the
	// replica that takes the writable role.
	SwitchoverCandidate     = "candidate"
	SwitchoverCandidateHost = "candidateHost"
	// SwitchoverPrimary and SwitchoverPrimaryHost name the current primary.
	SwitchoverPrimary     = "primary"
	SwitchoverPrimaryHost = "primaryHost"
)

// SwitchoverParameters lists the parameters switchover actions may declare.
var SwitchoverParameters = []string{SwitchoverCandidate, SwitchoverCandidateHost, SwitchoverPrimary, SwitchoverPrimaryHost}

// WorkloadSetSpec is written by the component-controller, fully rendered: the
// workloadset-controller never reads the plugin.
type WorkloadSetSpec struct {
	// Replicas is the number of pods.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1024
	Replicas int32 `json:"replicas"`
	// Template is the fully rendered pod template. It is kept schemaless here
	// (the Pod API validates it when pods are created) to keep the CRD small
	// enough for client-side apply.
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	Template corev1.PodTemplateSpec `json:"template"`
	// VolumeClaimTemplates: one PVC per pod per template.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	// +optional
	VolumeClaimTemplates []VolumeClaimTemplate `json:"volumeClaimTemplates,omitempty"`
	// Roles the pods report, with their update order.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Roles []RoleSpec `json:"roles,omitempty"`
	// PodManagementPolicy: Ordered (default) or Parallel creation.
	// +kubebuilder:default=Ordered
	// +optional
	PodManagementPolicy PodManagementPolicy `json:"podManagementPolicy,omitempty"`
	// PVCRetention says when PVCs are removed.
	// +optional
	PVCRetention *PVCRetentionPolicy `json:"pvcRetention,omitempty"`
	// HeartbeatSeconds is the status agent's heartbeat; a report older than
	// three heartbeats makes a member's role unknown. The component-controller
	// sets the plugin's status probe heartbeat, which the agent also gets.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3600
	// +kubebuilder:default=30
	// +optional
	HeartbeatSeconds int32 `json:"heartbeatSeconds,omitempty"`
	// Stopped removes every pod and keeps the PVCs.
	// +optional
	Stopped bool `json:"stopped,omitempty"`
	// ServiceName is the headless Service (created by the component-controller)
	// that gives each pod a stable DNS name <pod>.<serviceName>; it becomes
	// every pod's spec.subdomain. Empty means no subdomain.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	ServiceName string `json:"serviceName,omitempty"`
	// Switchover lists the actions that move the writable role to a replica
	// before a rolling update replaces the designated primary. Without it
	// the primary is replaced last, with a short outage.
	// +optional
	Switchover []SwitchoverStep `json:"switchover,omitempty"`
}

// MemberStatus is one pod as the workloadset-controller sees it.
type MemberStatus struct {
	// Name of the pod.
	Name string `json:"name"`
	// Role reported by the pod's status agent, or "unknown".
	// +optional
	Role string `json:"role,omitempty"`
	// Ready is the pod's Ready condition.
	// +optional
	Ready bool `json:"ready,omitempty"`
	// Healthy is what the status agent last reported.
	// +optional
	Healthy bool `json:"healthy,omitempty"`
	// Updated is true when the pod runs the current template revision.
	// +optional
	Updated bool `json:"updated,omitempty"`
	// LastReportTime is the time in the last accepted report. Heartbeats
	// that change nothing else are not written one by one: this may be up to
	// three heartbeats behind the last accepted report (staleness is judged
	// from the exact time, and a stale member's role becomes "unknown").
	// +optional
	LastReportTime *metav1.Time `json:"lastReportTime,omitempty"`
	// Reason is the reason in the last accepted report (why it is unhealthy).
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Reason string `json:"reason,omitempty"`
	// PodUID is the pod the report bookkeeping below belongs to; a recreated
	// pod starts a new sequence.
	// +optional
	PodUID types.UID `json:"podUID,omitempty"`
	// Sequence of the last accepted report as of the last status write (the
	// controller keeps the current one in memory); a report with a sequence
	// not above it is a replay and is ignored. A restarted controller starts
	// from it and accepts one report with an equal sequence.
	// +optional
	Sequence int64 `json:"sequence,omitempty"`
	// ReportDigest is no longer written: the controller keeps the digest of
	// the last report annotation it judged in memory.
	// +optional
	ReportDigest string `json:"reportDigest,omitempty"`
}

// WorkloadSetStatus is what the workloadset-controller observes.
type WorkloadSetStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +optional
	Phase ComponentPhase `json:"phase,omitempty"`
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`
	// +optional
	UpdatedReplicas int32 `json:"updatedReplicas,omitempty"`
	// Ready is "ready/desired", for kubectl get.
	// +optional
	Ready string `json:"ready,omitempty"`
	// UpdateRevision is the hash of the current pod template.
	// +optional
	UpdateRevision string `json:"updateRevision,omitempty"`
	// Members, one per pod.
	// +listType=map
	// +listMapKey=name
	// +optional
	Members []MemberStatus `json:"members,omitempty"`
	// RejectedReports counts status reports ignored as malformed, oversized,
	// stale or replayed.
	// +optional
	RejectedReports int64 `json:"rejectedReports,omitempty"`
	// Primary is the designated member holding the writable role (a pod
	// name), when spec.roles declares one. It is chosen (ordinal 0) before
	// the first pod exists and moves only to a member that reports the
	// writable role while the designated one does not (docs/replication.md).
	// +optional
	Primary string `json:"primary,omitempty"`
	// Initialized is true once the designated primary has reported the
	// writable role, healthy. It never goes back to false: from then on a
	// primary must never start from an empty volume.
	// +optional
	Initialized bool `json:"initialized,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pws,categories=plinth
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.ready`
// +kubebuilder:printcolumn:name="Updated",type=integer,JSONPath=`.status.updatedReplicas`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// WorkloadSet is a group of pods sharing resources and configuration (a Redis
// Cluster shard, a PostgreSQL replica set). It manages Pods and PVCs directly.
type WorkloadSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   WorkloadSetSpec   `json:"spec"`
	Status WorkloadSetStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// WorkloadSetList is a list of WorkloadSets.
type WorkloadSetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []WorkloadSet `json:"items"`
}
