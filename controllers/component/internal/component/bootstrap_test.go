package component_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/conditions"
	mwt "github.com/plinth-io/plinth/internal/middlewaretest"
	"github.com/plinth-io/plinth/internal/naming"
	"github.com/plinth-io/plinth/internal/pki"
)

var opsAgent = struct {
	once sync.Once
	bin  string
	err  error
}{}

// opsAgentBinary builds agents/ops once per test binary.
func opsAgentBinary(t *testing.T) string {
	t.Helper()
	opsAgent.once.Do(func() {
		var remove func()
		opsAgent.bin, remove, opsAgent.err = mwt.Build(filepath.Join(env.Root, "agents", "ops"), "plinth-ops-agent")
		_ = remove // the folder is in the system temp dir; kept for the test binary's life
	})
	if opsAgent.err != nil {
		t.Fatal(opsAgent.err)
	}
	return opsAgent.bin
}

// startOpsAgent runs the real ops agent on loopback as the component's pods
// would: the action file the controller rendered, the agents' server
// certificate the controller issued. Calls for ns's pods go to it.
func startOpsAgent(t *testing.T, ns string, comp *plinthv1.Component, env2 ...string) {
	t.Helper()
	tls := &corev1.Secret{}
	eventually(t, "agent TLS Secret", func() error { return get(t, ns, naming.AgentTLSSecret(comp.Name), tls) })
	startOpsAgentWithTLS(t, ns, comp, tls.Data, env2...)
}

// startOpsAgentWithTLS is startOpsAgent with other server TLS material
// (tls.crt, tls.key, ca.crt).
func startOpsAgentWithTLS(t *testing.T, ns string, comp *plinthv1.Component, tlsData map[string][]byte, env2 ...string) {
	t.Helper()
	dir := t.TempDir()
	rt := &corev1.ConfigMap{}
	eventually(t, "runtime ConfigMap", func() error { return get(t, ns, comp.Name+"-plinth", rt) })
	files := map[string][]byte{"actions.yaml": []byte(rt.Data["actions.yaml"])}
	for _, k := range []string{pki.KeyTLSCert, pki.KeyTLSKey, pki.KeyCACert} {
		files[k] = tlsData[k]
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", mwt.FreePort(t))
	cmd := exec.Command(opsAgentBinary(t), "--actions", filepath.Join(dir, "actions.yaml"), "--grpc-address", addr,
		"--tls-cert", filepath.Join(dir, pki.KeyTLSCert), "--tls-key", filepath.Join(dir, pki.KeyTLSKey),
		"--tls-client-ca", filepath.Join(dir, pki.KeyCACert), "--report-file", filepath.Join(dir, "status.json"), "--log-format", "console")
	cmd.Env = append(os.Environ(), env2...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	testAgents.set(ns, addr)
}

// markMembersReady writes what the workloadset-controller would once every
// pod of ws is Ready and reports its role.
func markMembersReady(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, "WorkloadSet status "+name, func() error {
		ws := &plinthv1.WorkloadSet{}
		if err := get(t, ns, name, ws); err != nil {
			return err
		}
		ws.Status = plinthv1.WorkloadSetStatus{
			ObservedGeneration: ws.Generation, Phase: plinthv1.ComponentRunning,
			Replicas: ws.Spec.Replicas, ReadyReplicas: ws.Spec.Replicas, UpdatedReplicas: ws.Spec.Replicas,
			Ready: fmt.Sprintf("%d/%d", ws.Spec.Replicas, ws.Spec.Replicas),
		}
		for o := int32(0); o < ws.Spec.Replicas; o++ {
			role := "replica"
			if o == 0 {
				role = "primary"
			}
			ws.Status.Members = append(ws.Status.Members, plinthv1.MemberStatus{Name: naming.Pod(name, o), Role: role, Ready: true, Healthy: true, Updated: true})
		}
		return env.Client.Status().Update(ctxT(t), ws)
	})
}

func bootComponent(t *testing.T, ns, app, password string) *plinthv1.Component {
	t.Helper()
	a := &plinthv1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: ns},
		Spec:       plinthv1.ApplicationSpec{Plugin: "boot", PluginVersion: "v1.0.0", Version: "1.0", Topology: "sharded"},
	}
	if err := env.Client.Create(ctxT(t), a); err != nil {
		t.Fatal(err)
	}
	// Labelled as the application-controller labels the credentials Secret
	// it makes: the controller's cache holds only Plinth's Secrets.
	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: naming.CredentialsSecret(app), Namespace: ns,
		Labels: map[string]string{plinthv1.LabelApplication: app, plinthv1.LabelManagedBy: plinthv1.ManagedByPlinth}},
		Data: map[string][]byte{"username": []byte("admin"), "password": []byte(password)}}
	if err := env.Client.Create(ctxT(t), creds); err != nil {
		t.Fatal(err)
	}
	c := &plinthv1.Component{
		ObjectMeta: metav1.ObjectMeta{Name: naming.Component(app, "server"), Namespace: ns,
			Labels: map[string]string{plinthv1.LabelApplication: app}},
		Spec: plinthv1.ComponentSpec{
			Application: app, Plugin: "boot", PluginVersion: "v1.0.0", Version: "1.0", Topology: "sharded",
			ComponentDef: "server", Replicas: 2, Shards: 2, CredentialsSecret: creds.Name,
		},
	}
	_ = ctrlRef(a, c)
	if err := env.Client.Create(ctxT(t), c); err != nil {
		t.Fatal(err)
	}
	return c
}

func bootstrapped(t *testing.T, ns, name string) (*metav1.Condition, *plinthv1.Component, error) {
	c := &plinthv1.Component{}
	if err := get(t, ns, name, c); err != nil {
		return nil, nil, err
	}
	cond := conditions.Get(c.Status.Conditions, plinthv1.ConditionBootstrapped)
	if cond == nil {
		return nil, c, fmt.Errorf("no Bootstrapped condition yet: %+v", c.Status.Conditions)
	}
	return cond, c, nil
}

func logLines(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(raw)), "\n")
}

// TestBootstrapActionRunsOnceWhenEveryPodIsReady: the topology's bootstrap
// action runs through a real ops agent, over mutual TLS with the
// certificates the controller issued, only once every pod is Ready; a
// failure is recorded (secret-free) and retried; success makes the
// Component Running and is never repeated.
func TestBootstrapActionRunsOnceWhenEveryPodIsReady(t *testing.T) {
	ns := namespace(t)
	const password = "s3cret-Passw0rd"
	comp := bootComponent(t, ns, "boot", password)
	dir := t.TempDir()
	logFile, failFile := filepath.Join(dir, "bootstrap.log"), filepath.Join(dir, "fail")
	if err := os.WriteFile(failFile, []byte("cannot form: quorum lost (auth "+password+")\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startOpsAgent(t, ns, comp, "BOOT_LOG="+logFile, "BOOT_FAIL="+failFile)

	// Pods not ready: the action waits.
	eventually(t, "Bootstrapped waits for the members", func() error {
		cond, c, err := bootstrapped(t, ns, comp.Name)
		if err != nil {
			return err
		}
		if cond.Status != metav1.ConditionFalse || cond.Reason != plinthv1.ReasonWaitingForMembers || !strings.Contains(cond.Message, "0/4 ready") {
			return fmt.Errorf("condition = %+v", cond)
		}
		if c.Status.Phase != plinthv1.ComponentCreating {
			return fmt.Errorf("phase %s, want Creating", c.Status.Phase)
		}
		return nil
	})
	markMembersReady(t, ns, naming.WorkloadSet(comp.Name, 0))
	time.Sleep(time.Second) // one shard ready is not enough
	if lines := logLines(t, logFile); len(lines) != 0 {
		t.Fatalf("the action ran before every pod was Ready: %q", lines)
	}
	markMembersReady(t, ns, naming.WorkloadSet(comp.Name, 1))

	// The action fails: False, with the output's last line, no password.
	eventually(t, "Bootstrapped False after the failing action", func() error {
		cond, c, err := bootstrapped(t, ns, comp.Name)
		if err != nil {
			return err
		}
		if cond.Status != metav1.ConditionFalse || cond.Reason != plinthv1.ReasonBootstrapFailed {
			return fmt.Errorf("condition = %+v", cond)
		}
		if !strings.Contains(cond.Message, "exited with code 3") || !strings.Contains(cond.Message, "quorum lost (auth ***)") {
			return fmt.Errorf("message %q lacks the exit code or the output", cond.Message)
		}
		if c.Status.Phase == plinthv1.ComponentRunning {
			return fmt.Errorf("Running before the bootstrap succeeded")
		}
		return nil
	})
	c := &plinthv1.Component{}
	_ = get(t, ns, comp.Name, c)
	for _, cond := range c.Status.Conditions {
		if strings.Contains(cond.Message, password) {
			t.Fatalf("condition %s carries the password: %q", cond.Type, cond.Message)
		}
	}

	// Fixed: the retry (after the backoff) succeeds.
	if err := os.WriteFile(failFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	eventually(t, "Bootstrapped True and Running", func() error {
		cond, c, err := bootstrapped(t, ns, comp.Name)
		if err != nil {
			return err
		}
		if cond.Status != metav1.ConditionTrue || cond.Reason != plinthv1.ReasonBootstrapSucceeded {
			return fmt.Errorf("condition = %+v", cond)
		}
		if c.Status.Phase != plinthv1.ComponentRunning {
			return fmt.Errorf("phase %s, want Running", c.Status.Phase)
		}
		return nil
	})
	lines := logLines(t, logFile)
	svc := naming.HeadlessService(comp.Name)
	var want []string
	for s := int32(0); s < 2; s++ {
		for o := int32(0); o < 2; o++ {
			want = append(want, naming.Pod(naming.WorkloadSet(comp.Name, s), o)+"."+svc+"."+ns+".svc:8080")
		}
	}
	wantLine := strings.Join(want, " ") + "|2|2"
	if len(lines) != 2 || lines[0] != wantLine || lines[1] != wantLine {
		t.Fatalf("the action ran %d times with %q; want twice (one failure, one success) with %q", len(lines), lines, wantLine)
	}

	// More events (a WorkloadSet changes, the Component is touched) never run it again.
	markMembersReady(t, ns, naming.WorkloadSet(comp.Name, 1))
	eventually(t, "annotate the Component", func() error {
		c := &plinthv1.Component{}
		if err := get(t, ns, comp.Name, c); err != nil {
			return err
		}
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations["test/touch"] = "1"
		return env.Client.Update(ctxT(t), c)
	})
	clock.Advance(time.Hour)
	time.Sleep(3 * time.Second)
	if lines := logLines(t, logFile); len(lines) != 2 {
		t.Fatalf("the action ran again after it succeeded: %q", lines)
	}
}

// TestBootstrapRefusesAnAgentNamedOtherwise: an agent whose certificate,
// though signed by the Application's CA, does not name the pod is not
// called: Bootstrapped is False with AgentUnavailable and nothing runs.
func TestBootstrapRefusesAnAgentNamedOtherwise(t *testing.T) {
	ns := namespace(t)
	comp := bootComponent(t, ns, "impostor", "another-Passw0rd")
	ca := &corev1.Secret{}
	eventually(t, "agent CA", func() error { return get(t, ns, naming.AgentCASecret("impostor"), ca) })
	kp, err := pki.Issue(pki.KeyPair{CertPEM: ca.Data[pki.KeyCACert], KeyPEM: ca.Data[pki.KeyCAKey]},
		pki.LeafRequest{CommonName: "impostor", DNSNames: []string{"*.elsewhere." + ns + ".svc"}, Usage: pki.ServerUsage}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(t.TempDir(), "bootstrap.log")
	startOpsAgentWithTLS(t, ns, comp, map[string][]byte{pki.KeyTLSCert: kp.CertPEM, pki.KeyTLSKey: kp.KeyPEM, pki.KeyCACert: ca.Data[pki.KeyCACert]},
		"BOOT_LOG="+logFile, "BOOT_FAIL=/nonexistent")
	markMembersReady(t, ns, naming.WorkloadSet(comp.Name, 0))
	markMembersReady(t, ns, naming.WorkloadSet(comp.Name, 1))
	eventually(t, "Bootstrapped False, agent unavailable", func() error {
		cond, _, err := bootstrapped(t, ns, comp.Name)
		if err != nil {
			return err
		}
		if cond.Status != metav1.ConditionFalse || cond.Reason != plinthv1.ReasonAgentUnavailable || !strings.Contains(cond.Message, "certificate") {
			return fmt.Errorf("condition = %+v", cond)
		}
		return nil
	})
	if lines := logLines(t, logFile); len(lines) != 0 {
		t.Fatalf("the action ran on an agent that is not the pod's: %q", lines)
	}
}
