package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ComponentPhase is the summary shown by kubectl get.
// +kubebuilder:validation:Enum=Creating;Running;Updating;Stopping;Stopped;Failed;Abnormal
type ComponentPhase string

const (
	ComponentCreating ComponentPhase = "Creating"
	ComponentRunning  ComponentPhase = "Running"
	ComponentUpdating ComponentPhase = "Updating"
	ComponentStopping ComponentPhase = "Stopping"
	ComponentStopped  ComponentPhase = "Stopped"
	ComponentFailed   ComponentPhase = "Failed"
	ComponentAbnormal ComponentPhase = "Abnormal"
)

// ComponentSpec is written by the application-controller: one component of an
// Application's topology with everything the component-controller needs to
// render it from the pinned plugin version.
type ComponentSpec struct {
	// Application that owns this Component.
	Application string `json:"application"`
	// Plugin, PluginVersion, Version and Topology are copied from the Application.
	Plugin        string `json:"plugin"`
	PluginVersion string `json:"pluginVersion"`
	Version       string `json:"version"`
	Topology      string `json:"topology"`
	// ComponentDef is the plugin's name for this component (redis, sentinel ...).
	ComponentDef string `json:"componentDef"`
	// Image resolved from the plugin's version map (before image rewrite).
	// +optional
	Image string `json:"image,omitempty"`
	// Replicas per WorkloadSet.
	// +kubebuilder:validation:Minimum=0
	Replicas int32 `json:"replicas"`
	// Shards is the number of WorkloadSets (1 unless the topology shards).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=1
	// +optional
	Shards int32 `json:"shards,omitempty"`
	// Resources of the middleware's own (first) container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
	// SidecarResources of every other container and every init container,
	// copied from the Application (see ApplicationComponent.SidecarResources).
	// +optional
	SidecarResources *corev1.ResourceRequirements `json:"sidecarResources,omitempty"`
	// +optional
	Storage *StorageSpec `json:"storage,omitempty"`
	// Parameters after validation, merged over the plugin's defaults.
	// +optional
	Parameters map[string]string `json:"parameters,omitempty"`
	// +optional
	TLS *TLSSpec `json:"tls,omitempty"`
	// +optional
	Monitoring *MonitoringSpec `json:"monitoring,omitempty"`
	// +optional
	Service *ServiceSpec `json:"service,omitempty"`
	// +optional
	Scheduling *SchedulingSpec `json:"scheduling,omitempty"`
	// +optional
	PDB *PDBSpec `json:"pdb,omitempty"`
	// CredentialsSecret names the Application's generated credentials.
	// +optional
	CredentialsSecret string `json:"credentialsSecret,omitempty"`
	// PVCRetention says whether PVCs are kept when pods are removed.
	// +optional
	PVCRetention *PVCRetentionPolicy `json:"pvcRetention,omitempty"`
	// Stopped scales the pods to zero, keeping PVCs.
	// +optional
	Stopped bool `json:"stopped,omitempty"`
}

// ComponentStatus is what the component-controller observes.
type ComponentStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +optional
	Phase ComponentPhase `json:"phase,omitempty"`
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Replicas desired over all WorkloadSets.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// ReadyReplicas over all WorkloadSets.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`
	// Ready is "ready/desired", for kubectl get.
	// +optional
	Ready string `json:"ready,omitempty"`
	// WorkloadSets lists the component's WorkloadSets.
	// +optional
	WorkloadSets []string `json:"workloadSets,omitempty"`
	// FormedShards is the number of shards the topology's bootstrap action
	// formed the cluster for, then the number the last successful reshard
	// action left it with. When spec.shards differs, the component-controller
	// runs the plugin's reshard actions (see the Resharding condition).
	// +optional
	FormedShards int32 `json:"formedShards,omitempty"`
	// PluginVersion and Version are the versions the Component's pods run:
	// they move to spec.pluginVersion and spec.version once every
	// WorkloadSet has observed the pod template rendered from them and all
	// its members run that template and are ready (the Component is
	// Running). Empty until the Component first runs.
	// +optional
	PluginVersion string `json:"pluginVersion,omitempty"`
	// +optional
	Version string `json:"version,omitempty"`
	// AppliedDynamicParameters are the effective values of the plugin's
	// dynamic parameters last handed to the running pods: at creation (the
	// pods read them from the configuration files), by a rolling restart,
	// or by an automatic Reload Operation. A change of one of them
	// against spec.parameters makes the component-controller create a
	// Reload Operation (docs/component-controller.md). A parameter the
	// plugin marks secret is kept as a hash of its value, never the value.
	// +kubebuilder:validation:MaxProperties=256
	// +optional
	AppliedDynamicParameters map[string]string `json:"appliedDynamicParameters,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pcmp,categories=plinth
// +kubebuilder:printcolumn:name="Application",type=string,JSONPath=`.spec.application`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.spec.version`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.ready`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Component is one set of pods of an Application that run the same binary
// (redis, sentinel, postgresql). Created by the application-controller.
type Component struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ComponentSpec   `json:"spec"`
	Status ComponentStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ComponentList is a list of Components.
type ComponentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Component `json:"items"`
}
