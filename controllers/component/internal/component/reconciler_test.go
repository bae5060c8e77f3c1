package component_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/naming"
	"github.com/plinth-io/plinth/internal/pki"
	"github.com/plinth-io/plinth/runtimeconfig"
)

const wait = 60 * time.Second

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls check until it returns nil or the wait runs out.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(wait)
	var err error
	for time.Now().Before(deadline) {
		if err = check(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
}

func namespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "comp-"}}
	if err := env.Client.Create(ctxT(t), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// newComponent creates an Application and the Component the
// application-controller would make for it.
func newComponent(t *testing.T, ns, app, topology, def string, mutate func(*plinthv1.ComponentSpec)) *plinthv1.Component {
	t.Helper()
	// v1.0.0 has only the standalone topology.
	version := "v1.0.0"
	if topology != "standalone" {
		version = "v1.1.0"
	}
	a := &plinthv1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: ns},
		Spec:       plinthv1.ApplicationSpec{Plugin: "redis", PluginVersion: version, Version: "7.2", Topology: topology},
	}
	if err := env.Client.Create(ctxT(t), a); err != nil {
		t.Fatal(err)
	}
	c := &plinthv1.Component{
		ObjectMeta: metav1.ObjectMeta{Name: naming.Component(app, def), Namespace: ns,
			Labels: map[string]string{plinthv1.LabelApplication: app}},
		Spec: plinthv1.ComponentSpec{
			Application: app, Plugin: "redis", PluginVersion: version, Version: "7.2", Topology: topology,
			ComponentDef: def, Image: "docker.io/library/redis:7.2", Replicas: 1, Shards: 1,
			CredentialsSecret: naming.CredentialsSecret(app),
			Parameters:        map[string]string{"maxmemory": "200mb"},
			Storage:           &plinthv1.StorageSpec{Size: resource.MustParse("2Gi")},
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}},
		},
	}
	if mutate != nil {
		mutate(&c.Spec)
	}
	if err := ctrlRef(a, c); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctxT(t), c); err != nil {
		t.Fatal(err)
	}
	return c
}

func ctrlRef(app *plinthv1.Application, c *plinthv1.Component) error {
	c.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(app, plinthv1.GroupVersion.WithKind("Application"))}
	return nil
}

func get(t *testing.T, ns, name string, obj client.Object) error {
	return env.Client.Get(ctxT(t), client.ObjectKey{Namespace: ns, Name: name}, obj)
}

func TestStandaloneRedisIsRendered(t *testing.T) {
	ns := namespace(t)
	comp := newComponent(t, ns, "cache", "standalone", "redis", nil)

	// Configuration rendered from the parameters.
	cm := &corev1.ConfigMap{}
	eventually(t, "config ConfigMap", func() error { return get(t, ns, naming.ConfigMap(comp.Name), cm) })
	if conf := cm.Data["redis.conf"]; !strings.Contains(conf, "maxmemory 200mb") {
		t.Errorf("redis.conf does not carry the parameter:\n%s", conf)
	}
	// The runtime files are valid for the agents that read them.
	rt := &corev1.ConfigMap{}
	eventually(t, "runtime ConfigMap", func() error { return get(t, ns, comp.Name+"-plinth", rt) })
	probe, err := runtimeconfig.ParseProbe([]byte(rt.Data["status-probe.yaml"]))
	if err != nil {
		t.Fatalf("status-probe.yaml: %v\n%s", err, rt.Data["status-probe.yaml"])
	}
	if strings.Join(probe.Command, " ") != "redis-cli -p 6379 --no-auth-warning info replication" || probe.RoleMap["master"] != "primary" {
		t.Errorf("probe = %+v", probe)
	}
	// The plugin's heartbeat (30s) is the agent's and the WorkloadSet's.
	if probe.Heartbeat.Duration != 30*time.Second {
		t.Errorf("probe heartbeat %s, want the plugin's 30s", probe.Heartbeat.Duration)
	}
	actions, err := runtimeconfig.ParseActions([]byte(rt.Data["actions.yaml"]))
	if err != nil {
		t.Fatalf("actions.yaml: %v\n%s", err, rt.Data["actions.yaml"])
	}
	if len(actions.Actions) == 0 {
		t.Fatal("no actions rendered")
	}
	for _, a := range actions.Actions {
		if strings.Contains(strings.Join(a.Argv, " "), ".Args") {
			t.Errorf("action %s still has plugin placeholders: %v", a.Name, a.Argv)
		}
	}

	// Services: the client Service selects the writable role; headless for DNS.
	client := &corev1.Service{}
	eventually(t, "client Service", func() error { return get(t, ns, naming.ClientService(comp.Name), client) })
	if client.Spec.Selector[plinthv1.LabelRole] != "primary" || client.Spec.Selector[plinthv1.LabelComponent] != comp.Name {
		t.Errorf("client Service selector = %v", client.Spec.Selector)
	}
	// Applied one after another: the client Service can be there before the others.
	headless := &corev1.Service{}
	eventually(t, "headless Service", func() error { return get(t, ns, naming.HeadlessService(comp.Name), headless) })
	if headless.Spec.ClusterIP != corev1.ClusterIPNone || !headless.Spec.PublishNotReadyAddresses {
		t.Errorf("headless Service = %+v", headless.Spec)
	}
	primary := &corev1.Service{}
	eventually(t, "primary Service", func() error { return get(t, ns, naming.RoleService(comp.Name, "primary"), primary) })
	if primary.Spec.Selector[plinthv1.LabelRole] != "primary" {
		t.Errorf("primary Service selector = %v", primary.Spec.Selector)
	}
	// The standalone topology has one pod, the designated primary: a
	// replicas Service would never have an endpoint.
	if err := get(t, ns, naming.RoleService(comp.Name, "replicas"), &corev1.Service{}); !apierrors.IsNotFound(err) {
		t.Errorf("replicas Service of a standalone Redis: %v, want NotFound", err)
	}
	// One made by an earlier version of the controller is deleted.
	old := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: naming.RoleService(comp.Name, "replicas"), Namespace: ns,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(comp, plinthv1.GroupVersion.WithKind("Component"))}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{plinthv1.LabelRole: "replica"}, Ports: []corev1.ServicePort{{Name: "redis", Port: 6379}}},
	}
	if err := env.Client.Create(ctxT(t), old); err != nil {
		t.Fatal(err)
	}
	eventually(t, "replicas Service deleted", func() error {
		if err := get(t, ns, old.Name, &corev1.Service{}); !apierrors.IsNotFound(err) {
			return errorf("replicas Service: %v, want NotFound", err)
		}
		return nil
	})

	// The agents may get and patch exactly the component's pods.
	role := &rbacv1.Role{}
	eventually(t, "agent Role", func() error { return get(t, ns, naming.AgentIdentity(comp.Name), role) })
	if len(role.Rules) != 1 || strings.Join(role.Rules[0].ResourceNames, ",") != "cache-redis-0" ||
		strings.Join(role.Rules[0].Verbs, ",") != "get,patch" || role.Rules[0].Resources[0] != "pods" {
		t.Errorf("agent Role rules = %+v", role.Rules)
	}

	// The WorkloadSet carries a fully rendered pod template.
	ws := &plinthv1.WorkloadSet{}
	eventually(t, "WorkloadSet", func() error { return get(t, ns, comp.Name, ws) })
	if !metav1.IsControlledBy(ws, comp) {
		t.Error("WorkloadSet is not controlled by the Component")
	}
	spec := ws.Spec.Template.Spec
	if spec.ServiceAccountName != naming.AgentIdentity(comp.Name) {
		t.Errorf("serviceAccountName = %q", spec.ServiceAccountName)
	}
	// Official names and the platform placeholder: the workloadset-controller
	// rewrites them per pod, after hashing, so upgrading Plinth rolls nothing.
	if got := spec.Containers[0].Image; got != "docker.io/library/redis:7.2" {
		t.Errorf("middleware image = %q, want the official one", got)
	}
	if got := spec.InitContainers[0].Image; got != plinthv1.PlatformImage {
		t.Errorf("platform image = %q, want the placeholder %q", got, plinthv1.PlatformImage)
	}
	if spec.Containers[0].Resources.Requests.Cpu().String() != "100m" {
		t.Errorf("resources = %+v", spec.Containers[0].Resources)
	}
	if ws.Spec.HeartbeatSeconds != 30 {
		t.Errorf("heartbeatSeconds %d, want the plugin's 30", ws.Spec.HeartbeatSeconds)
	}
	if ws.Spec.ServiceName != naming.HeadlessService(comp.Name) || ws.Spec.Replicas != 1 {
		t.Errorf("serviceName %q replicas %d", ws.Spec.ServiceName, ws.Spec.Replicas)
	}
	if len(ws.Spec.VolumeClaimTemplates) != 1 || ws.Spec.VolumeClaimTemplates[0].Size.String() != "2Gi" {
		t.Errorf("volume claim templates = %+v", ws.Spec.VolumeClaimTemplates)
	}
	if len(ws.Spec.Roles) != 2 || ws.Spec.Template.Annotations["plinth.io/restart-parameters-hash"] == "" {
		t.Errorf("roles %+v annotations %v", ws.Spec.Roles, ws.Spec.Template.Annotations)
	}
	if spec.Affinity != nil {
		t.Error("a single pod needs no anti-affinity")
	}
	for _, c := range spec.Containers {
		env := map[string]string{}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
				env[e.Name] = e.ValueFrom.FieldRef.FieldPath
			}
		}
		if env["POD_NAME"] != "metadata.name" || env["POD_NAMESPACE"] != "metadata.namespace" {
			t.Errorf("container %s lacks its pod's name and namespace: %v", c.Name, env)
		}
	}
	if got := spec.InitContainers[0].Command; strings.Join(got, " ") != "plinth-procmgr copy --to /shared" {
		t.Errorf("init container command = %v", got)
	}

	// Status: Creating until the WorkloadSet reports its pod ready.
	eventually(t, "Creating phase", func() error {
		c := &plinthv1.Component{}
		if err := get(t, ns, comp.Name, c); err != nil {
			return err
		}
		if c.Status.Phase != plinthv1.ComponentCreating || c.Status.Ready != "0/1" {
			return errorf("phase %q ready %q", c.Status.Phase, c.Status.Ready)
		}
		return nil
	})
	ws.Status = plinthv1.WorkloadSetStatus{ObservedGeneration: ws.Generation, Replicas: 1, ReadyReplicas: 1, UpdatedReplicas: 1, Phase: plinthv1.ComponentRunning}
	if err := env.Client.Status().Update(ctxT(t), ws); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Running phase", func() error {
		c := &plinthv1.Component{}
		if err := get(t, ns, comp.Name, c); err != nil {
			return err
		}
		ready := c.Status.Conditions
		if c.Status.Phase != plinthv1.ComponentRunning || c.Status.Ready != "1/1" || len(ready) == 0 || ready[0].Status != metav1.ConditionTrue {
			return errorf("phase %q ready %q conditions %+v", c.Status.Phase, c.Status.Ready, ready)
		}
		return nil
	})
}

func TestAgentCertificates(t *testing.T) {
	ns := namespace(t)
	comp := newComponent(t, ns, "certs", "standalone", "redis", nil)

	ca, server, clientCert := &corev1.Secret{}, &corev1.Secret{}, &corev1.Secret{}
	eventually(t, "certificates", func() error {
		if err := get(t, ns, naming.AgentCASecret("certs"), ca); err != nil {
			return err
		}
		if err := get(t, ns, naming.AgentTLSSecret(comp.Name), server); err != nil {
			return err
		}
		return get(t, ns, naming.AgentClientSecret("certs"), clientCert)
	})
	if ca.OwnerReferences[0].Kind != "Application" || clientCert.OwnerReferences[0].Kind != "Application" || server.OwnerReferences[0].Kind != "Component" {
		t.Errorf("owners: ca %v client %v server %v", ca.OwnerReferences, clientCert.OwnerReferences, server.OwnerReferences)
	}
	dns := naming.Pod(comp.Name, 0) + "." + naming.HeadlessService(comp.Name) + "." + ns + ".svc"
	leaf := verify(t, ca.Data[pki.KeyCACert], server.Data[pki.KeyTLSCert], dns, x509.ExtKeyUsageServerAuth)
	verify(t, ca.Data[pki.KeyCACert], clientCert.Data[pki.KeyTLSCert], "", x509.ExtKeyUsageClientAuth)

	// Near expiry, the server certificate is reissued under the same CA.
	clock.Advance(pki.LeafValidity - pki.RenewBefore + time.Hour)
	defer clock.Advance(-(pki.LeafValidity - pki.RenewBefore + time.Hour))
	c := &plinthv1.Component{}
	if err := get(t, ns, comp.Name, c); err != nil {
		t.Fatal(err)
	}
	c.Spec.Replicas = 2 // any change makes the controller look again
	if err := env.Client.Update(ctxT(t), c); err != nil {
		t.Fatal(err)
	}
	eventually(t, "reissued certificate", func() error {
		s := &corev1.Secret{}
		if err := get(t, ns, naming.AgentTLSSecret(comp.Name), s); err != nil {
			return err
		}
		if string(s.Data[pki.KeyTLSCert]) == string(server.Data[pki.KeyTLSCert]) {
			return errorf("not reissued yet")
		}
		renewed := verify(t, ca.Data[pki.KeyCACert], s.Data[pki.KeyTLSCert], dns, x509.ExtKeyUsageServerAuth)
		if !renewed.NotAfter.After(leaf.NotAfter) {
			return errorf("reissued certificate does not last longer")
		}
		return nil
	})
}

func verify(t *testing.T, caPEM, certPEM []byte, dns string, usage x509.ExtKeyUsage) *x509.Certificate {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("bad CA PEM")
	}
	b, _ := pem.Decode(certPEM)
	if b == nil {
		t.Fatal("bad certificate PEM")
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: dns, KeyUsages: []x509.ExtKeyUsage{usage}, CurrentTime: clock.Now()}); err != nil {
		t.Fatalf("certificate does not verify for %q: %v", dns, err)
	}
	return cert
}

func TestScalingStoppingAndShards(t *testing.T) {
	ns := namespace(t)
	comp := newComponent(t, ns, "grid", "cluster", "redis", func(s *plinthv1.ComponentSpec) {
		s.Replicas, s.Shards = 2, 3
		s.PDB = &plinthv1.PDBSpec{Enabled: true}
	})
	names := []string{"grid-redis-0", "grid-redis-1", "grid-redis-2"}
	for _, n := range names {
		n := n
		eventually(t, "WorkloadSet "+n, func() error { return get(t, ns, n, &plinthv1.WorkloadSet{}) })
	}
	// Two pods per shard: one may be a replica.
	eventually(t, "replicas Service", func() error {
		return get(t, ns, naming.RoleService(comp.Name, "replicas"), &corev1.Service{})
	})
	ws := &plinthv1.WorkloadSet{}
	_ = get(t, ns, names[0], ws)
	if a := ws.Spec.Template.Spec.Affinity; a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		t.Errorf("replicated topology without default anti-affinity: %+v", a)
	}
	role := &rbacv1.Role{}
	eventually(t, "Role lists every pod", func() error {
		if err := get(t, ns, naming.AgentIdentity(comp.Name), role); err != nil {
			return err
		}
		if len(role.Rules) == 0 || len(role.Rules[0].ResourceNames) != 6 {
			return errorf("resourceNames = %v", role.Rules)
		}
		return nil
	})
	if err := get(t, ns, comp.Name, &policyPDB{}); err != nil {
		t.Errorf("PDB: %v", err)
	}

	// Fewer shards: the last WorkloadSet goes; stopped propagates.
	c := &plinthv1.Component{}
	_ = get(t, ns, comp.Name, c)
	c.Spec.Shards, c.Spec.Stopped = 2, true
	if err := env.Client.Update(ctxT(t), c); err != nil {
		t.Fatal(err)
	}
	eventually(t, "third shard removed", func() error {
		err := get(t, ns, names[2], &plinthv1.WorkloadSet{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return errorf("still there (%v)", err)
	})
	eventually(t, "stopped propagated", func() error {
		w := &plinthv1.WorkloadSet{}
		if err := get(t, ns, names[0], w); err != nil {
			return err
		}
		if !w.Spec.Stopped {
			return errorf("not stopped")
		}
		return nil
	})
	// Stopping until the WorkloadSets report they observed the stop (the
	// status is written at the end of the reconcile that stopped them).
	eventually(t, "phase Stopping", func() error {
		c := &plinthv1.Component{}
		if err := get(t, ns, comp.Name, c); err != nil {
			return err
		}
		if c.Status.Phase != plinthv1.ComponentStopping && c.Status.Phase != plinthv1.ComponentStopped {
			return errorf("phase %q while stopping", c.Status.Phase)
		}
		return nil
	})
	for _, n := range names[:2] {
		w := &plinthv1.WorkloadSet{}
		if err := get(t, ns, n, w); err != nil {
			t.Fatal(err)
		}
		w.Status = plinthv1.WorkloadSetStatus{ObservedGeneration: w.Generation, Phase: plinthv1.ComponentStopped}
		if err := env.Client.Status().Update(ctxT(t), w); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "Stopped phase", func() error {
		c := &plinthv1.Component{}
		_ = get(t, ns, comp.Name, c)
		if c.Status.Phase != plinthv1.ComponentStopped || c.Status.Ready != "0/0" {
			return errorf("phase %q ready %q", c.Status.Phase, c.Status.Ready)
		}
		return nil
	})
}

func TestRenderFailureIsReported(t *testing.T) {
	ns := namespace(t)
	comp := newComponent(t, ns, "bad", "standalone", "redis", func(s *plinthv1.ComponentSpec) {
		s.Parameters = map[string]string{"maxmemory-policy": "forget-everything"}
	})
	eventually(t, "RenderFailed condition", func() error {
		c := &plinthv1.Component{}
		if err := get(t, ns, comp.Name, c); err != nil {
			return err
		}
		for _, cond := range c.Status.Conditions {
			if cond.Type == plinthv1.ConditionReady && cond.Reason == plinthv1.ReasonRenderFailed && strings.Contains(cond.Message, "maxmemory-policy") {
				return nil
			}
		}
		return errorf("conditions %+v", c.Status.Conditions)
	})
	if err := get(t, ns, comp.Name, &plinthv1.WorkloadSet{}); !apierrors.IsNotFound(err) {
		t.Errorf("a WorkloadSet was created for an invalid Component: %v", err)
	}
}
