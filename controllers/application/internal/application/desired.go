package application

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/naming"
	"github.com/plinth-io/plinth/pluginregistry"
)

// managedBy is the value of the managed-by label on every object Plinth creates.
const managedBy = "plinth"

// ownedLabels are the labels of an object that belongs to app (and component, if set).
func ownedLabels(app, component string) map[string]string {
	l := map[string]string{
		plinthv1.LabelApplication: app,
		plinthv1.LabelManagedBy:   managedBy,
	}
	if component != "" {
		l[plinthv1.LabelComponent] = component
	}
	return l
}

// ownerRef makes app the controller owner of an object.
func ownerRef(app *plinthv1.Application) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion:         plinthv1.GroupVersion.String(),
		Kind:               "Application",
		Name:               app.Name,
		UID:                app.UID,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}
}

// pvcRetention keeps PVCs unless the Application is to be wiped out when
// deleted; PVCs of pods removed by scale-in are always kept.
func pvcRetention(policy plinthv1.TerminationPolicy) *plinthv1.PVCRetentionPolicy {
	r := &plinthv1.PVCRetentionPolicy{WhenScaled: plinthv1.PVCRetain, WhenDeleted: plinthv1.PVCRetain}
	if policy == plinthv1.TerminationWipeOut {
		r.WhenDeleted = plinthv1.PVCDelete
	}
	return r
}

// desiredComponent is the Component the application-controller applies for
// one resolved topology component of app: everything the component-controller
// needs to render it from the pinned plugin version.
func desiredComponent(app *plinthv1.Application, pv *pluginregistry.PluginVersion, r resolved) *plinthv1.Component {
	name := naming.Component(app.Name, r.Def.Name)
	return &plinthv1.Component{
		TypeMeta: metav1.TypeMeta{APIVersion: plinthv1.GroupVersion.String(), Kind: "Component"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       app.Namespace,
			Labels:          ownedLabels(app.Name, name),
			OwnerReferences: []metav1.OwnerReference{ownerRef(app)},
		},
		Spec: plinthv1.ComponentSpec{
			Application:       app.Name,
			Plugin:            pv.Name(),
			PluginVersion:     pv.Version(),
			Version:           app.Spec.Version,
			Topology:          app.Spec.Topology,
			ComponentDef:      r.Def.Name,
			Image:             r.Image,
			Replicas:          r.Replicas,
			Shards:            r.Shards,
			Resources:         *r.Settings.Resources.DeepCopy(),
			SidecarResources:  r.Settings.SidecarResources.DeepCopy(),
			Storage:           r.Storage.DeepCopy(),
			Parameters:        r.Params,
			TLS:               app.Spec.TLS.DeepCopy(),
			Monitoring:        app.Spec.Monitoring.DeepCopy(),
			Service:           app.Spec.Service.DeepCopy(),
			Scheduling:        app.Spec.Scheduling.DeepCopy(),
			PDB:               app.Spec.PDB.DeepCopy(),
			CredentialsSecret: naming.CredentialsSecret(app.Name),
			PVCRetention:      pvcRetention(app.Spec.TerminationPolicy),
			Stopped:           app.Spec.Stopped,
		},
	}
}

// endpoints are the ways into app: per component, the client Service on the
// component's first port, and every non-headless Service the component has
// in the topology (pluginregistry.ComponentDef.ServicesIn) on each of its
// ports.
func endpoints(app *plinthv1.Application, rs []resolved) []plinthv1.Endpoint {
	var out []plinthv1.Endpoint
	for _, r := range rs {
		comp := naming.Component(app.Name, r.Def.Name)
		ports := map[string]int32{}
		for _, p := range r.Def.Ports {
			ports[p.Name] = p.Port
		}
		if len(r.Def.Ports) > 0 {
			out = append(out, plinthv1.Endpoint{Name: r.Def.Name, Service: naming.ClientService(comp), Port: r.Def.Ports[0].Port})
		}
		services, _ := r.Def.ServicesIn(r.Placement)
		for _, s := range services {
			if s.Headless {
				continue
			}
			for _, pn := range s.Ports {
				port, ok := ports[pn]
				if !ok {
					continue
				}
				name := r.Def.Name + "-" + s.Name
				if len(s.Ports) > 1 {
					name += "-" + pn
				}
				out = append(out, plinthv1.Endpoint{Name: name, Service: naming.RoleService(comp, s.Name), Port: port, Role: s.Role})
			}
		}
	}
	return out
}
