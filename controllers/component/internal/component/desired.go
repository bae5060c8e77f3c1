package component

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/naming"
	"github.com/plinth-io/plinth/pluginregistry"
)

// Keys of the runtime ConfigMap (<component>-plinth) the pod templates mount.
const (
	KeyStatusProbe = "status-probe.yaml"
	KeyActions     = "actions.yaml"
)

// AnnotationRestartHash is set on the pod template to a hash of the parameters
// that need a restart: changing one of them rolls the pods, changing a dynamic
// one does not.
const AnnotationRestartHash = "plinth.io/restart-parameters-hash"

// runtimeConfigMapName is the ConfigMap of the in-pod runtime's files.
func runtimeConfigMapName(component string) string { return component + "-plinth" }

func objectMeta(in *inputs, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: in.comp.Namespace, Labels: in.labels()}
}

// desiredConfigMap holds the middleware configuration files rendered from the
// component's parameters.
func desiredConfigMap(in *inputs) (*corev1.ConfigMap, error) {
	files, err := pluginregistry.RenderConfigFiles(in.pv, in.def.Name, in.comp.Spec.Parameters, in.context(-1, ""))
	if err != nil {
		return nil, err
	}
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: objectMeta(in, naming.ConfigMap(in.comp.Name)),
		Data:       map[string]string{},
	}
	for _, f := range files {
		cm.Data[f.Name] = f.Content
	}
	return cm, nil
}

// desiredRuntimeConfigMap holds the status agent's probe and the ops agent's
// actions, translated from the plugin.
func desiredRuntimeConfigMap(in *inputs) (*corev1.ConfigMap, error) {
	probe, err := runtimeProbe(in)
	if err != nil {
		return nil, err
	}
	actions, err := runtimeActions(in)
	if err != nil {
		return nil, err
	}
	pb, err := yaml.Marshal(probe)
	if err != nil {
		return nil, err
	}
	ab, err := yaml.Marshal(actions)
	if err != nil {
		return nil, err
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: objectMeta(in, runtimeConfigMapName(in.comp.Name)),
		Data:       map[string]string{KeyStatusProbe: string(pb), KeyActions: string(ab)},
	}, nil
}

// desiredServices: the client Service (selecting the writable role when the
// component has one), the headless Service for stable DNS, and the plugin's
// declared Services (role Services such as primary and replicas) except those
// that can never have an endpoint in the topology
// (pluginregistry.ComponentDef.ServicesIn). It also returns the names of the
// declared Services it leaves out.
func desiredServices(in *inputs) (svcs []*corev1.Service, omitted []string, err error) {
	ports := in.ports()
	allPorts := make([]string, 0, len(in.def.Ports))
	for _, p := range in.def.Ports {
		allPorts = append(allPorts, p.Name)
	}
	svc := func(name string, portNames []string, role string, headless bool) (*corev1.Service, error) {
		s := &corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: objectMeta(in, name),
			Spec:       corev1.ServiceSpec{Selector: in.selector(), Type: corev1.ServiceTypeClusterIP},
		}
		if role != "" {
			s.Spec.Selector[plinthv1.LabelRole] = role
		}
		if headless {
			s.Spec.ClusterIP = corev1.ClusterIPNone
			s.Spec.PublishNotReadyAddresses = true
		}
		for _, pn := range portNames {
			n, ok := ports[pn]
			if !ok {
				return nil, fmt.Errorf("service %s names port %q, which component %s does not declare", name, pn, in.def.Name)
			}
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: pn, Port: n, TargetPort: intstr.FromString(pn), Protocol: corev1.ProtocolTCP})
		}
		return s, nil
	}

	var out []*corev1.Service
	client, err := svc(naming.ClientService(in.comp.Name), allPorts, in.writableRole(), false)
	if err != nil {
		return nil, nil, err
	}
	if spec := in.comp.Spec.Service; spec != nil {
		if spec.Type != "" {
			client.Spec.Type = spec.Type
		}
		client.Annotations = spec.Annotations
	}
	out = append(out, client)
	declaresHeadless := false
	kept, left := in.def.ServicesIn(in.topo)
	for _, d := range left {
		omitted = append(omitted, naming.RoleService(in.comp.Name, d.Name))
	}
	for _, d := range kept {
		s, err := svc(naming.RoleService(in.comp.Name, d.Name), d.Ports, d.Role, d.Headless)
		if err != nil {
			return nil, nil, err
		}
		declaresHeadless = declaresHeadless || d.Headless
		out = append(out, s)
	}
	if !declaresHeadless {
		s, _ := svc(naming.HeadlessService(in.comp.Name), allPorts, "", true)
		out = append(out, s)
	}
	return out, omitted, nil
}

// desiredAgentRBAC lets the pods' agents get and patch exactly the
// component's own pods (the status agent writes its report annotation).
func desiredAgentRBAC(in *inputs) (*corev1.ServiceAccount, *rbacv1.Role, *rbacv1.RoleBinding) {
	name := naming.AgentIdentity(in.comp.Name)
	sa := &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: objectMeta(in, name),
	}
	role := &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: objectMeta(in, name),
		Rules: []rbacv1.PolicyRule{{
			APIGroups:     []string{""},
			Resources:     []string{"pods"},
			Verbs:         []string{"get", "patch"},
			ResourceNames: in.podNames(),
		}},
	}
	if len(role.Rules[0].ResourceNames) == 0 {
		// An empty resourceNames list would grant every pod: grant nothing instead.
		role.Rules = nil
	}
	rb := &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: objectMeta(in, name),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: in.comp.Namespace}},
	}
	return sa, role, rb
}

// desiredPDB is nil unless the Application enables PDBs.
func desiredPDB(in *inputs) *policyv1.PodDisruptionBudget {
	spec := in.comp.Spec.PDB
	if spec == nil || !spec.Enabled {
		return nil
	}
	pdb := &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: objectMeta(in, in.comp.Name),
		Spec: policyv1.PodDisruptionBudgetSpec{
			Selector:       &metav1.LabelSelector{MatchLabels: in.selector()},
			MinAvailable:   spec.MinAvailable,
			MaxUnavailable: spec.MaxUnavailable,
		},
	}
	if pdb.Spec.MinAvailable == nil && pdb.Spec.MaxUnavailable == nil {
		one := intstr.FromInt32(1)
		pdb.Spec.MaxUnavailable = &one
	}
	return pdb
}

// desiredWorkloadSets renders one WorkloadSet per shard.
func desiredWorkloadSets(in *inputs) ([]*plinthv1.WorkloadSet, error) {
	restartHash, err := restartParametersHash(in)
	if err != nil {
		return nil, err
	}
	hb, err := heartbeatOf(in)
	if err != nil {
		return nil, err
	}
	var out []*plinthv1.WorkloadSet
	for i, name := range in.workloadSetNames() {
		shard := int32(-1)
		if in.sharded() {
			shard = int32(i)
		}
		ctx := in.context(shard, name)
		tmpl, err := pluginregistry.RenderPodTemplate(in.pv, in.def.Name, &ctx)
		if err != nil {
			return nil, fmt.Errorf("rendering the pod template of %s: %w", name, err)
		}
		if err := finishPodTemplate(in, tmpl, restartHash); err != nil {
			return nil, fmt.Errorf("pod template of %s: %w", name, err)
		}
		ws := &plinthv1.WorkloadSet{
			TypeMeta:   metav1.TypeMeta{APIVersion: plinthv1.GroupVersion.String(), Kind: "WorkloadSet"},
			ObjectMeta: objectMeta(in, name),
			Spec: plinthv1.WorkloadSetSpec{
				Replicas:             in.comp.Spec.Replicas,
				Template:             *tmpl,
				VolumeClaimTemplates: volumeClaimTemplates(in),
				Roles:                roles(in),
				PodManagementPolicy:  plinthv1.OrderedPodManagement,
				PVCRetention:         in.comp.Spec.PVCRetention,
				HeartbeatSeconds:     int32(hb / time.Second),
				ServiceName:          in.headlessService(),
				Stopped:              in.comp.Spec.Stopped,
				Switchover:           switchoverSteps(in),
			},
		}
		out = append(out, ws)
	}
	return out, nil
}

// finishPodTemplate adds what the platform owns to a rendered pod template:
// labels, the agents' ServiceAccount and downward-API environment, resources
// of the main (first) container and of every other container
// (applySidecarResources), scheduling and the restart hash.
func finishPodTemplate(in *inputs, t *corev1.PodTemplateSpec, restartHash string) error {
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	for k, v := range in.labels() {
		t.Labels[k] = v
	}
	if t.Annotations == nil {
		t.Annotations = map[string]string{}
	}
	t.Annotations[AnnotationRestartHash] = restartHash
	spec := &t.Spec
	spec.ServiceAccountName = naming.AgentIdentity(in.comp.Name)
	for i := range spec.Containers {
		addDownwardEnv(&spec.Containers[i])
	}
	res := in.comp.Spec.Resources
	if len(res.Requests) > 0 || len(res.Limits) > 0 {
		spec.Containers[0].Resources = *res.DeepCopy()
	}
	if err := applySidecarResources(spec, in.comp.Spec.SidecarResources); err != nil {
		return err
	}

	replicated := in.comp.Spec.Replicas > 1 || in.shards() > 1
	if replicated {
		spec.Affinity = mergeAffinity(spec.Affinity, defaultAntiAffinity(in))
		spec.TopologySpreadConstraints = append(spec.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
			MaxSkew:           1,
			TopologyKey:       "topology.kubernetes.io/zone",
			WhenUnsatisfiable: corev1.ScheduleAnyway,
			LabelSelector:     &metav1.LabelSelector{MatchLabels: in.selector()},
		})
	}
	if s := in.comp.Spec.Scheduling; s != nil {
		if len(s.NodeSelector) > 0 && spec.NodeSelector == nil {
			spec.NodeSelector = map[string]string{}
		}
		for k, v := range s.NodeSelector {
			spec.NodeSelector[k] = v
		}
		spec.Tolerations = append(spec.Tolerations, s.Tolerations...)
		spec.TopologySpreadConstraints = append(spec.TopologySpreadConstraints, s.TopologySpreadConstraints...)
		spec.Affinity = mergeAffinity(spec.Affinity, s.Affinity)
	}
	return nil
}

// addDownwardEnv gives a container its Pod's name and namespace (the status
// agent writes its report on its own Pod), unless the template sets them.
func addDownwardEnv(c *corev1.Container) {
	for _, v := range []struct{ name, field string }{{"POD_NAME", "metadata.name"}, {"POD_NAMESPACE", "metadata.namespace"}} {
		found := false
		for _, e := range c.Env {
			found = found || e.Name == v.name
		}
		if !found {
			c.Env = append(c.Env, corev1.EnvVar{Name: v.name, ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: v.field}}})
		}
	}
}

// defaultAntiAffinity prefers one pod of the component per node (required in
// production is a user choice through spec.scheduling.affinity).
func defaultAntiAffinity(in *inputs) *corev1.Affinity {
	return &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 100,
			PodAffinityTerm: corev1.PodAffinityTerm{
				TopologyKey:   "kubernetes.io/hostname",
				LabelSelector: &metav1.LabelSelector{MatchLabels: in.selector()},
			},
		}},
	}}
}

// mergeAffinity appends b's terms to a's.
func mergeAffinity(a, b *corev1.Affinity) *corev1.Affinity {
	if b == nil {
		return a
	}
	if a == nil {
		return b.DeepCopy()
	}
	out := a.DeepCopy()
	if b.NodeAffinity != nil {
		if out.NodeAffinity == nil {
			out.NodeAffinity = &corev1.NodeAffinity{}
		}
		if r := b.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution; r != nil {
			if out.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
				out.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{}
			}
			ns := out.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
			ns.NodeSelectorTerms = append(ns.NodeSelectorTerms, r.NodeSelectorTerms...)
		}
		out.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(out.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution, b.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution...)
	}
	if b.PodAffinity != nil {
		if out.PodAffinity == nil {
			out.PodAffinity = &corev1.PodAffinity{}
		}
		out.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(out.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution, b.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution...)
		out.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(out.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution, b.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution...)
	}
	if b.PodAntiAffinity != nil {
		if out.PodAntiAffinity == nil {
			out.PodAntiAffinity = &corev1.PodAntiAffinity{}
		}
		out.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(out.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, b.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution...)
		out.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(out.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution, b.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution...)
	}
	return out
}

// volumeClaimTemplates: one per persistent volume of the component.
func volumeClaimTemplates(in *inputs) []plinthv1.VolumeClaimTemplate {
	var out []plinthv1.VolumeClaimTemplate
	for _, v := range in.def.Volumes {
		if !v.Persistent {
			continue
		}
		vct := plinthv1.VolumeClaimTemplate{Name: v.Name, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}}
		if q, err := resource.ParseQuantity(v.DefaultSize); err == nil {
			vct.Size = q
		}
		if s := in.comp.Spec.Storage; s != nil {
			if !s.Size.IsZero() {
				vct.Size = s.Size
			}
			vct.StorageClassName = s.StorageClassName
		}
		out = append(out, vct)
	}
	return out
}

func roles(in *inputs) []plinthv1.RoleSpec {
	out := make([]plinthv1.RoleSpec, 0, len(in.def.Roles))
	for _, r := range in.def.Roles {
		out = append(out, plinthv1.RoleSpec{Name: r.Name, UpdatePriority: r.UpdatePriority, Writable: r.Writable})
	}
	return out
}

// restartParametersHash hashes the effective values of the parameters that
// need a restart.
func restartParametersHash(in *inputs) (string, error) {
	cp, err := in.pv.ComponentParams(in.def.Name)
	if err != nil {
		return "", err
	}
	eff, err := pluginregistry.ValidateParameters(in.pv, in.def.Name, in.comp.Spec.Parameters)
	if err != nil {
		return "", err
	}
	var names []string
	for _, p := range cp.Parameters {
		if !p.Dynamic {
			names = append(names, p.Name)
		}
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s=%s\n", n, eff[n])
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// switchoverSteps translates the topology's switchover actions, passing each
// only the controller-provided parameters its action declares.
func switchoverSteps(in *inputs) []plinthv1.SwitchoverStep {
	var out []plinthv1.SwitchoverStep
	for _, st := range in.topo.Switchover {
		step := plinthv1.SwitchoverStep{Action: st.Action, Target: st.Target}
		if a := in.pv.Action(st.Action); a != nil {
			for _, p := range a.Parameters {
				if slices.Contains(plinthv1.SwitchoverParameters, p.Name) {
					step.Parameters = append(step.Parameters, p.Name)
				}
			}
		}
		out = append(out, step)
	}
	return out
}
