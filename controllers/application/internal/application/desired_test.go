package application

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

func TestDesiredComponent(t *testing.T) {
	pv := loadPlugin(t, "redis", "v1.0.0")
	res := corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}}
	sidecars := &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")}}
	app := redisApp(func(a *plinthv1.Application) {
		a.Spec.TerminationPolicy = plinthv1.TerminationWipeOut
		a.Spec.Stopped = true
		a.Spec.Service = &plinthv1.ServiceSpec{Type: corev1.ServiceTypeNodePort}
		a.Spec.PDB = &plinthv1.PDBSpec{Enabled: true}
	}, withComponent(plinthv1.ApplicationComponent{Name: "redis", Resources: res, SidecarResources: sidecars, Parameters: map[string]string{"maxmemory": "100mb"}}))
	rs, bad := plan(app, pv, nil, "")
	if bad != nil {
		t.Fatal(bad)
	}
	c := desiredComponent(app, pv, rs[0])

	if c.Name != "cache-redis" || c.Namespace != "team-a" {
		t.Errorf("name %s/%s", c.Namespace, c.Name)
	}
	wantLabels := map[string]string{plinthv1.LabelApplication: "cache", plinthv1.LabelComponent: "cache-redis", plinthv1.LabelManagedBy: "plinth"}
	if !reflect.DeepEqual(c.Labels, wantLabels) {
		t.Errorf("labels %v, want %v", c.Labels, wantLabels)
	}
	if len(c.OwnerReferences) != 1 || c.OwnerReferences[0].UID != "uid-1" || !ptr.Deref(c.OwnerReferences[0].Controller, false) || c.OwnerReferences[0].Kind != "Application" {
		t.Errorf("owner references %+v", c.OwnerReferences)
	}
	s := c.Spec
	if s.Application != "cache" || s.Plugin != "redis" || s.PluginVersion != "v1.0.0" || s.Version != "7.2" || s.Topology != "standalone" || s.ComponentDef != "redis" {
		t.Errorf("identity %+v", s)
	}
	if s.Image != "docker.io/library/redis:7.2" || s.Replicas != 1 || s.Shards != 1 {
		t.Errorf("image %q replicas %d shards %d", s.Image, s.Replicas, s.Shards)
	}
	if s.Storage == nil || s.Storage.Size.String() != "1Gi" {
		t.Errorf("storage %+v, want the plugin's default 1Gi", s.Storage)
	}
	if !reflect.DeepEqual(s.Resources, res) {
		t.Errorf("resources %+v", s.Resources)
	}
	if !reflect.DeepEqual(s.SidecarResources, sidecars) {
		t.Errorf("sidecar resources %+v, want %+v", s.SidecarResources, sidecars)
	}
	if s.Parameters["maxmemory"] != "100mb" || s.Parameters["appendonly"] != "yes" {
		t.Errorf("parameters %v", s.Parameters)
	}
	if s.CredentialsSecret != "cache-credentials" {
		t.Errorf("credentials secret %q", s.CredentialsSecret)
	}
	if s.PVCRetention == nil || s.PVCRetention.WhenDeleted != plinthv1.PVCDelete || s.PVCRetention.WhenScaled != plinthv1.PVCRetain {
		t.Errorf("WipeOut: pvc retention %+v, want whenDeleted Delete, whenScaled Retain", s.PVCRetention)
	}
	if !s.Stopped || s.Service == nil || s.Service.Type != corev1.ServiceTypeNodePort || s.PDB == nil || !s.PDB.Enabled {
		t.Errorf("stopped/service/pdb not carried: %+v", s)
	}

	// The Component shares nothing with the Application it was made from.
	app.Spec.Service.Type = corev1.ServiceTypeLoadBalancer
	if s.Service.Type != corev1.ServiceTypeNodePort {
		t.Error("the Component's service spec aliases the Application's")
	}
}

func TestPVCRetention(t *testing.T) {
	for policy, want := range map[plinthv1.TerminationPolicy]plinthv1.PVCRetentionRule{
		plinthv1.TerminationDelete:         plinthv1.PVCRetain,
		plinthv1.TerminationDoNotTerminate: plinthv1.PVCRetain,
		plinthv1.TerminationWipeOut:        plinthv1.PVCDelete,
		"":                                 plinthv1.PVCRetain,
	} {
		if got := pvcRetention(policy); got.WhenDeleted != want || got.WhenScaled != plinthv1.PVCRetain {
			t.Errorf("%q: %+v, want whenDeleted %s", policy, got, want)
		}
	}
}

// Endpoints name the client Service and every Service the component has in
// the topology: a standalone Redis has one pod, the designated primary, so
// no endpoint names a replicas Service, which the component-controller does
// not make there.
func TestEndpoints(t *testing.T) {
	for _, tc := range []struct {
		version, topology string
		want              []plinthv1.Endpoint
	}{
		{"v1.1.0", "sentinel", []plinthv1.Endpoint{
			{Name: "redis", Service: "cache-redis", Port: 6379},
			{Name: "redis-primary", Service: "cache-redis-primary", Port: 6379, Role: "primary"},
			{Name: "redis-replicas", Service: "cache-redis-replicas", Port: 6379, Role: "replica"},
			{Name: "sentinel", Service: "cache-sentinel", Port: 26379},
			{Name: "sentinel-sentinel", Service: "cache-sentinel-sentinel", Port: 26379},
		}},
		{"v1.0.0", "standalone", []plinthv1.Endpoint{
			{Name: "redis", Service: "cache-redis", Port: 6379},
			{Name: "redis-primary", Service: "cache-redis-primary", Port: 6379, Role: "primary"},
		}},
	} {
		app := redisApp(func(a *plinthv1.Application) { a.Spec.Topology = tc.topology })
		rs, bad := plan(app, loadPlugin(t, "redis", tc.version), nil, "")
		if bad != nil {
			t.Fatal(bad)
		}
		got := endpoints(app, rs)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s endpoints\n got %+v\nwant %+v", tc.topology, got, tc.want)
		}
		names := map[string]bool{}
		for _, e := range got {
			if names[e.Name] {
				t.Errorf("%s: duplicate endpoint name %s", tc.topology, e.Name)
			}
			names[e.Name] = true
		}
	}
}

// The same Application and plugin version always give the same Component:
// re-applying it after a controller restart or upgrade changes nothing (and so
// restarts no pod).
func TestDesiredComponentIsDeterministic(t *testing.T) {
	pv := loadPlugin(t, "redis", "v1.1.0")
	app := redisApp(func(a *plinthv1.Application) { a.Spec.Topology = "sentinel" })
	first, bad := plan(app, pv, nil, "")
	if bad != nil {
		t.Fatal(bad)
	}
	for range 5 {
		again, bad := plan(app, pv, nil, "")
		if bad != nil {
			t.Fatal(bad)
		}
		for i := range first {
			if !reflect.DeepEqual(desiredComponent(app, pv, first[i]), desiredComponent(app, pv, again[i])) {
				t.Fatalf("component %s differs between two plans", first[i].Def.Name)
			}
		}
	}
}
