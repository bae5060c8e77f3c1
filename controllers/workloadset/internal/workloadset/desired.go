package workloadset

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/plinth-io/plinth/apis/statusreport"
	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/naming"
)

// managedByValue is the value of app.kubernetes.io/managed-by on every child.
const managedByValue = "plinth"

// podName is the stable name of the pod with the given ordinal.
func podName(ws *plinthv1.WorkloadSet, ordinal int) string {
	return naming.Pod(ws.Name, int32(ordinal))
}

// pvcName is the stable name of a pod's claim from the template tpl.
func pvcName(tpl, pod string) string {
	return naming.PVC(tpl, pod)
}

// ordinalOf returns the ordinal encoded in a child pod's name, or false.
func ordinalOf(ws *plinthv1.WorkloadSet, name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, ws.Name+"-")
	if !ok || rest == "" || (len(rest) > 1 && rest[0] == '0') {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// revision is the hash of the pod template. Only the template counts: a new
// controller version that renders pods differently does not restart them.
func revision(tpl *corev1.PodTemplateSpec) string {
	data, err := json.Marshal(tpl)
	if err != nil {
		// A PodTemplateSpec always encodes; keep going with a constant.
		data = []byte(err.Error())
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:10]
}

// childLabels are the labels Plinth puts on every pod and PVC of ws.
func childLabels(ws *plinthv1.WorkloadSet) map[string]string {
	l := map[string]string{
		plinthv1.LabelWorkloadSet: ws.Name,
		plinthv1.LabelManagedBy:   managedByValue,
	}
	for _, k := range []string{plinthv1.LabelApplication, plinthv1.LabelComponent} {
		if v, ok := ws.Labels[k]; ok {
			l[k] = v
		}
	}
	return l
}

// controllerRef makes ws the controller of a child.
func controllerRef(ws *plinthv1.WorkloadSet) metav1.OwnerReference {
	return *metav1.NewControllerRef(ws, plinthv1.GroupVersion.WithKind("WorkloadSet"))
}

// desiredPod renders the pod with the given ordinal from the template of ws.
// Template labels and annotations come first; Plinth's labels win. Each
// volume claim template becomes a volume of the same name backed by the pod's
// own PVC (replacing a template volume of that name).
func desiredPod(ws *plinthv1.WorkloadSet, ordinal int, rev string) *corev1.Pod {
	tpl := ws.Spec.Template.DeepCopy()
	name := podName(ws, ordinal)
	labels := maps.Clone(tpl.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, childLabels(ws))
	labels[plinthv1.LabelRevision] = rev
	delete(labels, plinthv1.LabelRole) // only a report sets the role
	annotations := maps.Clone(tpl.Annotations)
	delete(annotations, plinthv1.AnnotationStatusReport)

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       ws.Namespace,
			Labels:          labels,
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{controllerRef(ws)},
		},
		Spec: tpl.Spec,
	}
	pod.Spec.Hostname = name
	pod.Spec.Subdomain = ws.Spec.ServiceName
	for _, vct := range ws.Spec.VolumeClaimTemplates {
		vol := corev1.Volume{
			Name: vct.Name,
			VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: pvcName(vct.Name, name)},
			},
		}
		replaced := false
		for i := range pod.Spec.Volumes {
			if pod.Spec.Volumes[i].Name == vct.Name {
				pod.Spec.Volumes[i] = vol
				replaced = true
			}
		}
		if !replaced {
			pod.Spec.Volumes = append(pod.Spec.Volumes, vol)
		}
	}
	return pod
}

// desiredPVC renders the claim of the pod with the given ordinal from the
// volume claim template vct. Claims carry Plinth's labels but no owner
// reference: the garbage collector would otherwise delete them with the
// WorkloadSet even when pvcRetention.whenDeleted is Retain.
func desiredPVC(ws *plinthv1.WorkloadSet, vct *plinthv1.VolumeClaimTemplate, ordinal int) *corev1.PersistentVolumeClaim {
	modes := vct.AccessModes
	if len(modes) == 0 {
		modes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name:      pvcName(vct.Name, podName(ws, ordinal)),
			Namespace: ws.Namespace,
			Labels:    childLabels(ws),
		},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      append([]corev1.PersistentVolumeAccessMode(nil), modes...),
			StorageClassName: vct.StorageClassName,
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: vct.Size.DeepCopy()},
			},
		},
	}
}

// validate checks what the CRD schema cannot: names that must fit the pod
// and PVC name limits, roles, a non-empty template.
func validate(ws *plinthv1.WorkloadSet) error {
	var problems []string
	if longest := podName(ws, max(int(ws.Spec.Replicas)-1, 0)); len(validation.IsDNS1123Label(longest)) > 0 {
		problems = append(problems, fmt.Sprintf("pod name %q is not a DNS label (at most 63 lower-case letters, digits and '-'), which a hostname must be: shorten or rename the WorkloadSet", longest))
	}
	if len(ws.Name) > 63 {
		problems = append(problems, "the name is longer than 63 characters and cannot be a label value")
	}
	if len(ws.Spec.Template.Spec.Containers) == 0 {
		problems = append(problems, "spec.template.spec.containers is empty")
	}
	for _, vct := range ws.Spec.VolumeClaimTemplates {
		if n := len(pvcName(vct.Name, podName(ws, 0))) + 4; n > 253 {
			problems = append(problems, fmt.Sprintf("PVC names from volumeClaimTemplates %q would be longer than 253 characters", vct.Name))
		}
		if vct.Size.Sign() <= 0 {
			problems = append(problems, fmt.Sprintf("volumeClaimTemplates %q: size must be positive", vct.Name))
		}
	}
	writable := 0
	for _, r := range ws.Spec.Roles {
		if !statusreport.ValidRole(r.Name) || r.Name == plinthv1.RoleUnknown {
			problems = append(problems, fmt.Sprintf("role %q: want a lower-case DNS label other than %q", r.Name, plinthv1.RoleUnknown))
		}
		if r.Writable {
			writable++
		}
	}
	if writable > 1 {
		problems = append(problems, fmt.Sprintf("%d roles are writable; at most one may be", writable))
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid WorkloadSet spec: %s", strings.Join(problems, "; "))
	}
	return nil
}
