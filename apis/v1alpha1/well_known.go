package v1alpha1

// Labels set on every object Plinth creates, so that Services, PDBs and people
// can select the members of an Application.
const (
	// LabelApplication names the Application an object belongs to.
	LabelApplication = "plinth.io/application"
	// LabelComponent names the Component an object belongs to.
	LabelComponent = "plinth.io/component"
	// LabelWorkloadSet names the WorkloadSet a Pod or PVC belongs to.
	LabelWorkloadSet = "plinth.io/workloadset"
	// LabelRole is the role a Pod reported from inside (primary, replica,
	// sentinel, ...). The workloadset-controller copies it from the status
	// report; Services select on it.
	LabelRole = "plinth.io/role"
	// LabelRevision is the hash of the WorkloadSet pod template a Pod was
	// created from (status.updateRevision names the current one).
	LabelRevision = "plinth.io/revision"
	// LabelManagedBy is set to ManagedByPlinth on every object Plinth
	// creates. The controllers' caches of Pods, PVCs, Secrets and ConfigMaps
	// select on it (docs/caches.md): an object without it is invisible to a
	// cached read.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByPlinth is the value of LabelManagedBy.
	ManagedByPlinth = "plinth"

	// LabelPlugin, LabelPluginVersion and LabelPluginPart identify the
	// ConfigMaps that make up a plugin version.
	LabelPlugin        = "plinth.io/plugin"
	LabelPluginVersion = "plinth.io/plugin-version"
	LabelPluginPart    = "plinth.io/plugin-part"

	// LabelAutomatic is set to "true" on the Operations a controller creates
	// on its own (not asked for by a person), for example the Reload the
	// component-controller creates when dynamic parameters change.
	LabelAutomatic = "plinth.io/automatic"
)

// Annotations Plinth reads or writes.
const (
	// AnnotationStatusReport is written by the status agent on its own Pod: a
	// small JSON document (role, healthy, details, timestamp, sequence).
	// Controllers treat it as untrusted input.
	AnnotationStatusReport = "status.plinth.io/report"
	// AnnotationPrimary, AnnotationPrimaryHost and AnnotationInitialized are
	// written by the workloadset-controller on every pod of a WorkloadSet
	// that declares a writable role: the designated primary's pod name, its
	// stable DNS name (<pod>.<service>.<namespace>.svc), and "true" once
	// that primary has reported the writable role (docs/replication.md).
	// Pod templates read them through the downward API.
	AnnotationPrimary     = "plinth.io/primary"
	AnnotationPrimaryHost = "plinth.io/primary-host"
	AnnotationInitialized = "plinth.io/initialized"
	// AnnotationPluginValidation is written by the plugin registry on a
	// plugin version's manifest ConfigMap: "valid" or the reason it is not.
	AnnotationPluginValidation = "plinth.io/validation"
	// AnnotationDesiredHash is written by the controllers on every object
	// they server-side apply: a hash of the object as they last wanted it,
	// so that a reconcile that wants nothing new skips the apply.
	AnnotationDesiredHash = "plinth.io/desired-hash"
	// AnnotationRequestedBy is set on every Operation by the API server
	// itself (the MutatingAdmissionPolicy in
	// deploy/kustomize/base/admission): the name of the user who created
	// it. It cannot be changed afterwards.
	AnnotationRequestedBy = "plinth.io/requested-by"
	// AnnotationReason is written on an automatic Operation (LabelAutomatic):
	// why the controller created it, for example "dynamic parameters
	// changed: maxmemory, timeout".
	AnnotationReason = "plinth.io/reason"
)

// Finalizers Plinth places. Each is removed by its controller once the work it
// guards is done; see docs/finalizers.md for how to remove one by hand.
const (
	// FinalizerApplication guards an Application's termination policy.
	FinalizerApplication = "plinth.io/application"
	// FinalizerBackup guards the removal of a Backup's data from storage.
	FinalizerBackup = "plinth.io/backup"
	// FinalizerWorkloadSetPVCs is placed on a WorkloadSet only while
	// pvcRetention.whenDeleted is Delete: the workloadset-controller deletes
	// the WorkloadSet's PVCs, then removes it. Removing it by hand leaves the
	// PVCs behind (safe: no data is lost).
	FinalizerWorkloadSetPVCs = "plinth.io/workloadset-pvcs"
)

// PlatformImage is the image name pod templates use for the Plinth image
// (procmgr and the agents). The workloadset-controller replaces it with its
// --plinth-image when it creates a pod, after computing the template's
// revision: upgrading Plinth never rolls middleware pods, and pods created
// later get the new binaries.
const PlatformImage = "plinth.io/platform"

// RoleUnknown is the role of a member whose report is missing, malformed or stale.
const RoleUnknown = "unknown"
