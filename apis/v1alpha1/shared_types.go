package v1alpha1

// CronSchedule is a five-field cron expression (minute hour day-of-month month
// day-of-week) or one of the macros @yearly, @monthly, @weekly, @daily, @hourly.
// +kubebuilder:validation:MaxLength=128
// +kubebuilder:validation:XValidation:rule="self.matches('^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$') || self.matches('^([*]|[0-5]?[0-9](-[0-5]?[0-9])?)(/[0-9]+)?(,([*]|[0-5]?[0-9](-[0-5]?[0-9])?)(/[0-9]+)?)* +([*]|([01]?[0-9]|2[0-3])(-([01]?[0-9]|2[0-3]))?)(/[0-9]+)?(,([*]|([01]?[0-9]|2[0-3])(-([01]?[0-9]|2[0-3]))?)(/[0-9]+)?)* +([*]|[?]|(0?[1-9]|[12][0-9]|3[01])(-(0?[1-9]|[12][0-9]|3[01]))?)(/[0-9]+)?(,([*]|(0?[1-9]|[12][0-9]|3[01])(-(0?[1-9]|[12][0-9]|3[01]))?)(/[0-9]+)?)* +([*]|(0?[1-9]|1[0-2]|[A-Za-z]{3})(-(0?[1-9]|1[0-2]|[A-Za-z]{3}))?)(/[0-9]+)?(,([*]|(0?[1-9]|1[0-2]|[A-Za-z]{3})(-(0?[1-9]|1[0-2]|[A-Za-z]{3}))?)(/[0-9]+)?)* +([*]|[?]|([0-7]|[A-Za-z]{3})(-([0-7]|[A-Za-z]{3}))?)(/[0-9]+)?(,([*]|([0-7]|[A-Za-z]{3})(-([0-7]|[A-Za-z]{3}))?)(/[0-9]+)?)*$')",message="schedule must be a cron expression with five fields (minute 0-59, hour 0-23, day of month 1-31, month 1-12, day of week 0-7), for example \"0 2 * * *\", or a macro such as @daily"
type CronSchedule string

// RetentionPolicy keeps backups by count and by age; a backup is deleted when
// either limit is exceeded. At least the newest successful backup is kept.
type RetentionPolicy struct {
	// Count of backups to keep.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Count *int32 `json:"count,omitempty"`
	// MaxAge of a backup, as a duration in hours, minutes or days: 720h, 30d.
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:XValidation:rule="self.matches('^[1-9][0-9]*(m|h|d)$')",message="maxAge must be a whole number of minutes, hours or days, for example 720h or 30d"
	// +optional
	MaxAge string `json:"maxAge,omitempty"`
}

// BackupStorageType names a storage backend.
// +kubebuilder:validation:Enum=pvc;s3;nfs
type BackupStorageType string

const (
	BackupStoragePVC BackupStorageType = "pvc"
	BackupStorageS3  BackupStorageType = "s3"
	BackupStorageNFS BackupStorageType = "nfs"
)

// BackupStorage is where backups are written. Set type and the matching field.
// +kubebuilder:validation:XValidation:rule="(self.type == 'pvc') == has(self.pvc) && (self.type == 's3') == has(self.s3) && (self.type == 'nfs') == has(self.nfs)",message="set exactly the storage field named by type (pvc, s3 or nfs)"
type BackupStorage struct {
	// Type of backend.
	Type BackupStorageType `json:"type"`
	// PVC backend: an existing PersistentVolumeClaim in the Application's namespace.
	// +optional
	PVC *PVCStorage `json:"pvc,omitempty"`
	// S3 backend: any S3-compatible object store (AWS S3, MinIO, OSS, COS ...).
	// +optional
	S3 *S3Storage `json:"s3,omitempty"`
	// NFS backend: an NFS export mounted by the backup Job.
	// +optional
	NFS *NFSStorage `json:"nfs,omitempty"`
}

// PVCStorage writes backups to a PersistentVolumeClaim.
type PVCStorage struct {
	// ClaimName of an existing PVC in the Application's namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ClaimName string `json:"claimName"`
	// Path inside the volume (default: the volume's root).
	// +kubebuilder:validation:Pattern=`^[^.]?[A-Za-z0-9._/-]*$`
	// +optional
	Path string `json:"path,omitempty"`
}

// S3Storage writes backups to an S3-compatible bucket.
type S3Storage struct {
	// Endpoint, for example https://s3.eu-west-1.amazonaws.com or http://minio.storage:9000.
	// +kubebuilder:validation:Pattern=`^https?://[^\s/]+(/.*)?$`
	Endpoint string `json:"endpoint"`
	// Bucket name.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	Bucket string `json:"bucket"`
	// Prefix of the object keys.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Prefix string `json:"prefix,omitempty"`
	// Region of the bucket.
	// +optional
	Region string `json:"region,omitempty"`
	// ForcePathStyle addresses the bucket as endpoint/bucket (MinIO needs it).
	// +optional
	ForcePathStyle bool `json:"forcePathStyle,omitempty"`
	// CredentialsSecretRef names a Secret in the Application's namespace with
	// the keys accessKeyId and secretAccessKey.
	CredentialsSecretRef LocalObjectReference `json:"credentialsSecretRef"`
}

// NFSStorage writes backups to an NFS export.
type NFSStorage struct {
	// Server host name or address.
	// +kubebuilder:validation:MinLength=1
	Server string `json:"server"`
	// Path of the export.
	// +kubebuilder:validation:Pattern=`^/.*`
	Path string `json:"path"`
}

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}
