package main

// Integration tests: the status agent probes real Redis and PostgreSQL
// replication pairs and writes to Pods of a real kube-apiserver (envtest),
// with a client limited to the RBAC rule documented in docs/runtime.md.

import (
	"context"
	"fmt"
	authorizationv1 "k8s.io/api/authorization/v1"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/plinth-io/plinth/agents/status/internal/agent"
	"github.com/plinth-io/plinth/agents/status/internal/publish"
	"github.com/plinth-io/plinth/apis/statusreport"
	"github.com/plinth-io/plinth/apis/v1alpha1"
	mwt "github.com/plinth-io/plinth/internal/middlewaretest"
	"github.com/plinth-io/plinth/internal/testenv"
	"github.com/plinth-io/plinth/runtimeconfig"
)

const wait = 90 * time.Second

var env struct {
	Config *rest.Config
	Client client.Client
	// Binary is plinth-status-agent, built for TestBinary.
	Binary string
}

// TestMain starts a kube-apiserver and etcd (envtest). The status agent
// needs only Pods and RBAC, so no CRDs are installed. (testenv.Run installs
// Plinth's CRDs, which the API server currently refuses: their CEL rules
// exceed the cost budget. See the issue notes.)
func TestMain(m *testing.M) {
	root, err := testenv.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	e := &envtest.Environment{
		BinaryAssetsDirectory:    filepath.Join(root, "bin", "k8s"),
		ControlPlaneStartTimeout: testenv.ControlPlaneStartTimeout,
		ControlPlaneStopTimeout:  time.Minute,
	}
	cfg, err := e.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting kube-apiserver and etcd (run make kube-bins):", err)
		os.Exit(1)
	}
	env.Config = cfg
	if env.Client, err = client.New(cfg, client.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = e.Stop()
		os.Exit(1)
	}
	bin, remove, err := mwt.Build(".", "plinth-status-agent")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = e.Stop()
		os.Exit(1)
	}
	env.Binary = bin
	code := m.Run()
	remove()
	if err := e.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping envtest:", err)
	}
	os.Exit(code)
}

// pod creates a Pod in the API server, and a Role and RoleBinding that let
// the user agentUser get and patch that Pod only (the documented rule). It
// returns a client that acts as that user.
func pod(t *testing.T, name string) kubernetes.Interface {
	t.Helper()
	ctx := context.Background()
	admin := kubernetes.NewForConfigOrDie(env.Config)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "redis:7.2"}}},
	}
	if _, err := admin.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-status-agent", Namespace: "default"},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: []string{"pods"}, ResourceNames: []string{name}, Verbs: []string{"get", "patch"},
		}},
	}
	user := "system:serviceaccount:default:" + name
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name, Namespace: "default"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: user}},
	}
	if _, err := admin.RbacV1().Roles("default").Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().RoleBindings("default").Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = admin.CoreV1().Pods("default").Delete(context.Background(), name, *metav1.NewDeleteOptions(0))
		_ = admin.RbacV1().Roles("default").Delete(context.Background(), role.Name, metav1.DeleteOptions{})
		_ = admin.RbacV1().RoleBindings("default").Delete(context.Background(), role.Name, metav1.DeleteOptions{})
	})
	// The API server's RBAC cache learns new bindings asynchronously: wait
	// until the grant is in effect, so tests never race it.
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               user,
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "default", Verb: "patch", Resource: "pods", Name: name},
	}}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		r, err := admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err == nil && r.Status.Allowed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Role for %s never took effect: %v", user, err)
		}
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	return kubernetes.NewForConfigOrDie(cfg)
}

// runAgent runs a status agent for the Pod name until the test ends.
func runAgent(t *testing.T, name string, client kubernetes.Interface, probe string) {
	t.Helper()
	p, err := runtimeconfig.ParseProbe([]byte(probe))
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(agent.Options{Probe: p, Publisher: publish.New(client, "default", name, testr.New(t)), Log: testr.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// report reads the Pod's report through the admin client.
func report(name string) (statusreport.Report, error) {
	var p corev1.Pod
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: "default", Name: name}, &p); err != nil {
		return statusreport.Report{}, err
	}
	s, ok := p.Annotations[v1alpha1.AnnotationStatusReport]
	if !ok {
		return statusreport.Report{}, fmt.Errorf("pod %s has no report yet", name)
	}
	r, err := statusreport.Parse([]byte(s))
	if err != nil {
		return statusreport.Report{}, err
	}
	return *r, nil
}

func waitRole(t *testing.T, name, role string, healthy bool, detail string) statusreport.Report {
	t.Helper()
	var r statusreport.Report
	mwt.Eventually(t, wait, fmt.Sprintf("pod %s reports %s", name, role), func() error {
		var err error
		if r, err = report(name); err != nil {
			return err
		}
		if r.Role != role || r.Healthy != healthy || (detail != "" && r.Details[detail] == "") {
			return fmt.Errorf("report %+v", r)
		}
		return nil
	})
	return r
}

func redisProbe(port int) string {
	return fmt.Sprintf(`
command: [redis-cli, -h, 127.0.0.1, -p, "%d", info, replication]
parser: keyvalue
interval: 300ms
timeout: 250ms
heartbeat: 2s
healthy: [{field: master_link_status, values: [up], optional: true}]
details: [master_repl_offset, slave_repl_offset, master_link_status, connected_slaves]
`, port)
}

func TestRedisReplicationPair(t *testing.T) {
	mwt.Need(t, "redis-cli")
	masterPort, master := mwt.StartRedis(t)
	replicaPort, replica := mwt.StartRedis(t)
	ctx := context.Background()
	if err := replica.ReplicaOf(ctx, "127.0.0.1", strconv.Itoa(masterPort)).Err(); err != nil {
		t.Fatal(err)
	}
	runAgent(t, "redis-0", pod(t, "redis-0"), redisProbe(masterPort))
	runAgent(t, "redis-1", pod(t, "redis-1"), redisProbe(replicaPort))

	waitRole(t, "redis-0", "master", true, "master_repl_offset")
	r := waitRole(t, "redis-1", "slave", true, "slave_repl_offset")
	if r.Details["master_link_status"] != "up" {
		t.Errorf("replica details %v", r.Details)
	}

	// Heartbeats: the sequence keeps growing while nothing changes.
	first := r.Sequence
	mwt.Eventually(t, wait, "a heartbeat", func() error {
		now, err := report("redis-1")
		if err != nil || now.Sequence <= first {
			return fmt.Errorf("sequence %d (was %d), %v", now.Sequence, first, err)
		}
		return nil
	})

	// Promote the replica and stop the master: roles follow, and the dead
	// master is reported unhealthy rather than crashing the agent.
	if err := replica.ReplicaOf(ctx, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	waitRole(t, "redis-1", "master", true, "")
	_ = master.Shutdown(ctx).Err()
	r = waitRole(t, "redis-0", statusreport.RoleUnknown, false, "")
	if r.Reason == "" {
		t.Errorf("no reason for an unhealthy report: %+v", r)
	}
}

func TestPostgresStreamingPair(t *testing.T) {
	psql := filepath.Join(mwt.PostgresBin, "psql")
	mwt.Need(t, psql)
	primary := mwt.InitPostgres(t)
	primary.Start(t)
	standby := primary.Standby(t)
	standby.Start(t)
	probe := func(port int) string {
		return fmt.Sprintf(`
command: [%s, -XAtq, -h, 127.0.0.1, -p, "%d", -U, postgres, -d, postgres, -c, "%s"]
parser: json
interval: 500ms
timeout: 400ms
heartbeat: 5s
`, psql, port, `select json_build_object('role', case when pg_is_in_recovery() then 'standby' else 'primary' end, 'in_recovery', pg_is_in_recovery(), 'lsn', case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_lsn() end, 'receive_lsn', pg_last_wal_receive_lsn(), 'timeline', (select timeline_id from pg_control_checkpoint()))`)
	}
	runAgent(t, "pg-0", pod(t, "pg-0"), probe(primary.Port))
	runAgent(t, "pg-1", pod(t, "pg-1"), probe(standby.Port))

	p := waitRole(t, "pg-0", "primary", true, "lsn")
	s := waitRole(t, "pg-1", "standby", true, "receive_lsn")
	if p.Details["in_recovery"] != "false" || s.Details["in_recovery"] != "true" || s.Details["timeline"] != "1" {
		t.Errorf("details: primary %v, standby %v", p.Details, s.Details)
	}

	// Promote the standby (what a Failover operation's step does): its
	// report follows at once, as a change, not at the next heartbeat.
	if v, err := standby.Query(context.Background(), "select pg_promote()::text"); err != nil || v != "true" {
		t.Fatalf("pg_promote() = %q, %v", v, err)
	}
	promoted := waitRole(t, "pg-1", "primary", true, "lsn")
	if promoted.Sequence <= s.Sequence || promoted.Details["in_recovery"] != "false" {
		t.Errorf("after promotion: %+v (standby report was %+v)", promoted, s)
	}
}

// TestTheAgentCanWriteOnlyItsOwnPod checks the documented RBAC rule: the
// agent's identity can patch its Pod and not a neighbour.
func TestTheAgentCanWriteOnlyItsOwnPod(t *testing.T) {
	own := pod(t, "rbac-0")
	pod(t, "rbac-1")
	ctx := context.Background()
	patch := []byte(`{"metadata":{"annotations":{"x":"y"}}}`)
	if _, err := own.CoreV1().Pods("default").Patch(ctx, "rbac-0", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("patching its own pod: %v", err)
	}
	if _, err := own.CoreV1().Pods("default").Patch(ctx, "rbac-1", types.MergePatchType, patch, metav1.PatchOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("patching another pod: %v, want Forbidden", err)
	}
	if _, err := own.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing pods: %v, want Forbidden", err)
	}
}

// TestSequenceContinuesAfterARestart: a new agent continues the sequence of
// the report already on the Pod.
func TestSequenceContinuesAfterARestart(t *testing.T) {
	client := pod(t, "seq-0")
	prev, _ := (&statusreport.Report{Role: "primary", Healthy: true, Sequence: 41, Timestamp: time.Now()}).Marshal()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, v1alpha1.AnnotationStatusReport, prev)
	ctx := context.Background()
	if _, err := client.CoreV1().Pods("default").Patch(ctx, "seq-0", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := publish.New(client, "default", "seq-0", testr.New(t)).Publish(ctx, statusreport.Report{Role: "replica", Timestamp: time.Now()})
	if err != nil || got.Sequence != 42 {
		t.Fatalf("Publish = %+v, %v; want sequence 42", got, err)
	}
	if r, err := report("seq-0"); err != nil || r.Sequence != 42 || r.Role != "replica" {
		t.Errorf("pod report %+v, %v", r, err)
	}
	// Another pod's identity is refused, and the error says so.
	if _, err := publish.New(client, "default", "redis-0-does-not-exist", testr.New(t)).Publish(ctx, statusreport.Report{Role: "x"}); err == nil {
		t.Error("publishing to a pod outside the Role succeeded")
	}
}

// TestBinary runs plinth-status-agent itself, as its container does: the
// Pod from the flags' environment (downward API), a kubeconfig, a probe file.
func TestBinary(t *testing.T) {
	pod(t, "bin-0")
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: env.Config.Host, CertificateAuthorityData: env.Config.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: env.Config.CertData, ClientKeyData: env.Config.KeyData, Impersonate: "system:serviceaccount:default:bin-0"}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	kc.CurrentContext = "envtest"
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(dir, "probe.yaml")
	if err := os.WriteFile(probe, []byte("command: [sh, -c, 'echo role:sentinel; echo quorum=2']\nparser: keyvalue\ninterval: 200ms\ntimeout: 100ms\nheartbeat: 1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reportFile := filepath.Join(dir, "status.json")
	cmd := exec.Command(env.Binary, "--probe", probe, "--kubeconfig", kubeconfig, "--report-file", reportFile, "--log-format", "console")
	cmd.Env = append(os.Environ(), "POD_NAME=bin-0", "POD_NAMESPACE=default")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); <-done })

	r := waitRole(t, "bin-0", "sentinel", true, "quorum")
	if r.Details["quorum"] != "2" {
		t.Errorf("details %v", r.Details)
	}
	if b, err := os.ReadFile(reportFile); err != nil || !strings.Contains(string(b), `"role":"sentinel"`) {
		t.Errorf("report file %s, %v", b, err)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("plinth-status-agent did not exit on SIGTERM")
	}

	// Without the Pod's identity it refuses to start.
	out, err := exec.Command(env.Binary, "--probe", probe, "--kubeconfig", kubeconfig).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "POD_NAME") {
		t.Errorf("without POD_NAME: %v\n%s", err, out)
	}
}
