package operation_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/controllers/operation/internal/operation"
	"github.com/plinth-io/plinth/internal/agentclient"
	mwt "github.com/plinth-io/plinth/internal/middlewaretest"
	"github.com/plinth-io/plinth/internal/naming"
	"github.com/plinth-io/plinth/internal/pki"
	"github.com/plinth-io/plinth/internal/testenv"
	procmgrv1 "github.com/plinth-io/plinth/proto/gen/procmgr/v1"
)

// member is one pod of the fake component: a real procmgr on loopback
// (running sleep) whose server certificate names the pod's DNS name.
type procPod struct {
	name, addr string
}

// standaloneWithProcmgr builds what the other controllers would have built
// for a one-pod Redis standalone Application: the Component, the
// WorkloadSet reporting its member, the Pod (Ready) and the controllers'
// agent client certificate; the pod's procmgr is real. It returns the
// Application and an Agents that dials that procmgr.
func standaloneWithProcmgr(t *testing.T, ns, name string) (*plinthv1.Application, *agentclient.Client, procPod) {
	t.Helper()
	ctx := context.Background()
	one := int32(1)
	app := &plinthv1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       plinthv1.ApplicationSpec{Plugin: "redis", PluginVersion: "v1.2.0", Version: "7.2", Topology: "standalone", Components: []plinthv1.ApplicationComponent{{Name: "redis", Replicas: &one}}},
	}
	must(t, env.Client.Create(ctx, app))
	labels := map[string]string{plinthv1.LabelApplication: name, plinthv1.LabelComponent: naming.Component(name, "redis"), plinthv1.LabelManagedBy: plinthv1.ManagedByPlinth}
	comp := &plinthv1.Component{ObjectMeta: metav1.ObjectMeta{Name: naming.Component(name, "redis"), Namespace: ns, Labels: labels},
		Spec: plinthv1.ComponentSpec{Application: name, Plugin: "redis", PluginVersion: "v1.2.0", Version: "7.2", Topology: "standalone", ComponentDef: "redis", Replicas: 1}}
	must(t, env.Client.Create(ctx, comp))
	wsName := naming.WorkloadSet(comp.Name, -1)
	ws := &plinthv1.WorkloadSet{ObjectMeta: metav1.ObjectMeta{Name: wsName, Namespace: ns, Labels: labels},
		Spec: plinthv1.WorkloadSetSpec{Replicas: 1, ServiceName: comp.Name + "-headless",
			Roles:    []plinthv1.RoleSpec{{Name: "primary", Writable: true, UpdatePriority: 1}, {Name: "replica"}},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "redis", Image: "redis"}}}}}}
	must(t, env.Client.Create(ctx, ws))
	podName := naming.Pod(wsName, 0)
	ws.Status = plinthv1.WorkloadSetStatus{ObservedGeneration: ws.Generation, Primary: podName,
		Members: []plinthv1.MemberStatus{{Name: podName, Role: "primary", Ready: true, Healthy: true}}}
	must(t, env.Client.Status().Update(ctx, ws))
	podLabels := map[string]string{plinthv1.LabelWorkloadSet: wsName}
	for k, v := range labels {
		podLabels[k] = v
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: podName, Namespace: ns, Labels: podLabels,
		Annotations: map[string]string{plinthv1.AnnotationPrimary: podName}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "redis", Image: "redis"}}}}
	must(t, env.Client.Create(ctx, pod))
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
	must(t, env.Client.Status().Update(ctx, pod))

	// The controllers' client certificate and the pod's procmgr.
	now := time.Now()
	ca, err := pki.NewCA("test-app-ca", now)
	must(t, err)
	ap := agentclient.Pod{Namespace: ns, Name: podName, Service: ws.Spec.ServiceName, Application: name}
	server, err := pki.Issue(ca, pki.LeafRequest{CommonName: "agent", DNSNames: []string{ap.DNSName()}, Usage: pki.ServerUsage}, now)
	must(t, err)
	cl, err := pki.Issue(ca, pki.LeafRequest{CommonName: "controller", Usage: pki.ClientUsage}, now)
	must(t, err)
	must(t, env.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: naming.AgentClientSecret(name), Labels: labels},
		Data: map[string][]byte{pki.KeyTLSCert: cl.CertPEM, pki.KeyTLSKey: cl.KeyPEM, pki.KeyCACert: ca.CertPEM}}))
	dir := t.TempDir()
	for f, data := range map[string][]byte{"tls.crt": server.CertPEM, "tls.key": server.KeyPEM, "ca.crt": ca.CertPEM} {
		must(t, os.WriteFile(filepath.Join(dir, f), data, 0o600))
	}
	addr := fmt.Sprintf("127.0.0.1:%d", mwt.FreePort(t))
	cmd := mwt.StartProcess(t, nil, procmgrBinary(t), "--grpc-address", addr, "--socket", filepath.Join(dir, "procmgr.sock"), "--health-address", "",
		"--tls-cert", filepath.Join(dir, "tls.crt"), "--tls-key", filepath.Join(dir, "tls.key"), "--tls-client-ca", filepath.Join(dir, "ca.crt"),
		"--grace-period", "2s", "--", "sleep", "1000")
	// procmgr runs its child in a process group of its own: stop procmgr
	// gracefully (it stops the child) before the group kill of cleanup.
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		for i := 0; i < 100 && syscall.Kill(cmd.Process.Pid, 0) == nil; i++ {
			time.Sleep(50 * time.Millisecond)
		}
	})
	agents := &agentclient.Client{Reader: env.Client, ResolveProcmgr: func(context.Context, agentclient.Pod) (string, error) { return addr, nil }}
	return app, agents, procPod{name: podName, addr: addr}
}

// procmgrBin is plinth-procmgr built for this package's tests (TestMain).
var procmgrBin string

// buildProcmgr builds plinth-procmgr; stop removes it.
func buildProcmgr(e *testenv.Env) (func(), error) {
	bin, remove, err := mwt.Build(filepath.Join(e.Root, "procmgr"), "plinth-procmgr")
	if err != nil {
		return nil, err
	}
	procmgrBin = bin
	return remove, nil
}

func procmgrBinary(t *testing.T) string {
	t.Helper()
	if procmgrBin == "" {
		t.Fatal("plinth-procmgr was not built (TestMain)")
	}
	return procmgrBin
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// procStatus asks the pod's procmgr for its status, over mutual TLS as the
// controller does.
func procStatus(t *testing.T, agents *agentclient.Client, ns, app string, p procPod) *procmgrv1.ProcessStatus {
	t.Helper()
	var st *procmgrv1.ProcessStatus
	mwt.Eventually(t, 30*time.Second, "procmgr answers", func() error {
		pm, closeConn, err := agents.Procmgr(context.Background(), agentclient.Pod{Namespace: ns, Name: p.name, Service: naming.Component(app, "redis") + "-headless", Application: app})
		if err != nil {
			return err
		}
		defer closeConn()
		res, err := pm.Status(context.Background(), &procmgrv1.StatusRequest{})
		if err != nil {
			return err
		}
		st = res.GetStatus()
		return nil
	})
	return st
}

func startControllerWith(t *testing.T, ns string, agents operation.Agents) *testenv.Manager {
	t.Helper()
	return testenv.StartManager(t, env, testenv.ManagerOptions{Name: "operation-controller", Namespace: ns},
		func(ctx context.Context, m *testenv.Manager) error {
			return operation.Setup(ctx, m, operation.Options{
				FieldManager: m.FieldManager(), Controller: m.ControllerOptions(),
				PlatformNamespace: m.Options.PlatformNamespace, Plugins: plugins, Agents: agents,
			})
		})
}

// Restart goes through procmgr: the process gets a new PID in the same
// procmgr (no pod is touched), and a controller stopped in the middle of
// the restart step and started again restarts the process exactly once.
func TestRestartIsInPlaceAndNeverTwice(t *testing.T) {
	ns := namespace(t)
	app, agents, pod := standaloneWithProcmgr(t, ns, "one")
	before := procStatus(t, agents, ns, app.Name, pod)
	m := startControllerWith(t, ns, agents)
	newOperation(t, ns, "restart", app.Name, "Restart", nil)
	// Stop the controller as soon as the pod is recorded as being called.
	waitOp(t, ns, "restart", "the pod's call recorded", func(op *plinthv1.Operation) bool {
		for _, s := range op.Status.Steps {
			if s.Name == "restart-rest" && len(s.Targets) == 1 && s.Targets[0].Phase == plinthv1.StepRunning {
				return true
			}
		}
		return false
	})
	must(t, m.Stop())
	startControllerWith(t, ns, agents)
	markReady(t, app)
	op := waitOp(t, ns, "restart", "Succeeded", phaseIs(plinthv1.OperationSucceeded))
	after := procStatus(t, agents, ns, app.Name, pod)
	if after.GetPid() == before.GetPid() {
		t.Fatalf("the process kept pid %d", after.GetPid())
	}
	if got := after.GetRestartCount() - before.GetRestartCount(); got != 1 {
		t.Fatalf("procmgr restarted the process %d times, want exactly once; steps %+v", got, op.Status.Steps)
	}
	for _, s := range op.Status.Steps {
		switch s.Name {
		case "restart-replicas":
			if len(s.Targets) != 0 {
				t.Fatalf("restart-replicas called %+v on a standalone", s.Targets)
			}
		case "restart-rest":
			if len(s.Targets) != 1 || s.Targets[0].Name != pod.name || s.Targets[0].Phase != plinthv1.StepSucceeded {
				t.Fatalf("restart-rest targets %+v", s.Targets)
			}
		}
	}
}
