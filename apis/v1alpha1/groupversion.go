package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of every Plinth kind.
var GroupVersion = schema.GroupVersion{Group: "plinth.io", Version: "v1alpha1"}

// AddToScheme registers the Plinth kinds with a scheme.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&Application{}, &ApplicationList{},
		&Component{}, &ComponentList{},
		&WorkloadSet{}, &WorkloadSetList{},
		&Operation{}, &OperationList{},
		&Backup{}, &BackupList{},
		&BackupSchedule{}, &BackupScheduleList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
