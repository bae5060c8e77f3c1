package agentrun_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/plinth-io/plinth/internal/agentclient"
	"github.com/plinth-io/plinth/internal/agentrun"
	mwt "github.com/plinth-io/plinth/internal/middlewaretest"
	"github.com/plinth-io/plinth/internal/naming"
	"github.com/plinth-io/plinth/internal/pki"
)

var agentBinary string

func TestMain(m *testing.M) {
	bin, remove, err := mwt.Build(filepath.Join("..", "..", "agents", "ops"), "plinth-ops-agent")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	agentBinary = bin
	code := m.Run()
	remove()
	os.Exit(code)
}

const (
	ns, app, svc = "shop", "cache", "cache-redis-headless"
	// token is the value of a secret parameter; password is in the
	// credentials Secret.
	token    = "tok-9f8e7d6c5b4a"
	password = "hunter2-Rz81"
)

// actions an ops agent serves in these tests.
const actions = `
actions:
  - name: echo
    argv: [echo, "{{.word}}"]
    parameters: [{name: word, type: string, required: true}]
  - name: sleep
    argv: [sleep, "600"]
    timeout: 10m
  - name: flood
    argv: [sh, -c, 'head -c 10000 /dev/zero | tr "\0" x; echo', sh]
  - name: leak
    argv: [sh, -c, 'head -c 10000 /dev/zero | tr "\0" x; echo; echo "redis://default:$2@cache-0:6379"; echo "login with $1 failed"; echo "ERR invalid password $2" >&2; exit 3', sh, "{{.token}}", "{{.password}}"]
    parameters: [{name: token, type: string, required: true}, {name: password, type: string, required: true}]
    output: both
`

// agent runs a real ops agent on loopback whose server certificate names
// pod's DNS name, issued by a fresh CA, and returns an Executor holding a
// controller certificate of the same CA (clientCA: of another CA when set).
func agent(t *testing.T, pod agentclient.Pod, clientCA *pki.KeyPair) agentrun.Executor {
	t.Helper()
	now := time.Now()
	ca, err := pki.NewCA("test-app-ca", now)
	if err != nil {
		t.Fatal(err)
	}
	server, err := pki.Issue(ca, pki.LeafRequest{CommonName: "agent", DNSNames: []string{pod.DNSName()}, Usage: pki.ServerUsage}, now)
	if err != nil {
		t.Fatal(err)
	}
	if clientCA == nil {
		clientCA = &ca
	}
	cl, err := pki.Issue(*clientCA, pki.LeafRequest{CommonName: "controller", Usage: pki.ClientUsage}, now)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string][]byte{"actions.yaml": []byte(actions), "tls.crt": server.CertPEM, "tls.key": server.KeyPEM, "ca.crt": ca.CertPEM}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", mwt.FreePort(t))
	path := func(name string) string { return filepath.Join(dir, name) }
	mwt.StartProcess(t, nil, agentBinary, "--actions", path("actions.yaml"), "--grpc-address", addr,
		"--tls-cert", path("tls.crt"), "--tls-key", path("tls.key"), "--tls-client-ca", path("ca.crt"),
		"--report-file", path("status.json"), "--log-format", "console")

	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: naming.AgentClientSecret(pod.Application)},
		Data:       map[string][]byte{pki.KeyTLSCert: cl.CertPEM, pki.KeyTLSKey: cl.KeyPEM, pki.KeyCACert: ca.CertPEM},
	}
	return &agentclient.Client{
		Reader:  fake.NewClientBuilder().WithObjects(secret).Build(),
		Resolve: func(context.Context, agentclient.Pod) (string, error) { return addr, nil },
	}
}

func testPod() agentclient.Pod {
	return agentclient.Pod{Namespace: ns, Name: "cache-redis-0", Service: svc, Application: app}
}

// ready waits until the agent answers.
func ready(t *testing.T, r *agentrun.Runner) {
	t.Helper()
	mwt.Eventually(t, 60*time.Second, "the ops agent answers", func() error {
		res, err := r.Run(context.Background(), agentrun.Call{Pod: testPod(), Action: "echo", Params: map[string]string{"word": "hi"}})
		if err != nil {
			return err
		}
		if res.Output != "hi\n" {
			return fmt.Errorf("echo said %q", res.Output)
		}
		return nil
	})
}

// TestTimeoutKillsTheAction: a call's timeout reaches the agent, which
// ends the action; the caller gets a Timeout long before the action would
// have ended (it sleeps 600 s; the deadline below is only a bound for a
// hung call, not a measurement).
func TestTimeoutKillsTheAction(t *testing.T) {
	r := &agentrun.Runner{Agents: agent(t, testPod(), nil)}
	ready(t, r)
	start := time.Now()
	_, err := r.Run(context.Background(), agentrun.Call{Pod: testPod(), Action: "sleep", Timeout: 2 * time.Second})
	var e *agentrun.Error
	if !errors.As(err, &e) || e.Kind != agentrun.Timeout || e.Code != codes.DeadlineExceeded {
		t.Fatalf("sleep with a 2s timeout: %#v (%v)", err, err)
	}
	if took := time.Since(start); took > 5*time.Minute {
		t.Errorf("the call took %s", took)
	}
	if !strings.Contains(err.Error(), "timed out") || strings.Contains(err.Error(), "\n") {
		t.Errorf("message %q", err.Error())
	}
}

// TestOutputCappedAndRedacted: the output an action returns (10 KB and
// credentials) comes back as its last 4 KiB, with the secret parameter, the
// credentials and a connection string's password masked, in the Result,
// the Error and its message.
func TestOutputCappedAndRedacted(t *testing.T) {
	r := &agentrun.Runner{Agents: agent(t, testPod(), nil)}
	ready(t, r)

	res, err := r.Run(context.Background(), agentrun.Call{Pod: testPod(), Action: "flood"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Output) != agentrun.DefaultMaxOutput || !res.Truncated || strings.Trim(res.Output, "x\n") != "" {
		t.Errorf("flood: %d bytes, truncated %v", len(res.Output), res.Truncated)
	}

	_, err = r.Run(context.Background(), agentrun.Call{
		Pod: testPod(), Action: "leak",
		Params:       map[string]string{"token": token, "password": password},
		SecretParams: []string{"token"}, Secrets: []string{password},
	})
	var e *agentrun.Error
	if !errors.As(err, &e) || e.Kind != agentrun.Exited || e.ExitCode != 3 {
		t.Fatalf("leak: %#v (%v)", err, err)
	}
	if len(e.Output) > agentrun.DefaultMaxOutput {
		t.Errorf("leak output is %d bytes", len(e.Output))
	}
	for _, want := range []string{"redis://default:***@cache-0:6379", "login with *** failed", "ERR invalid password ***"} {
		if !strings.Contains(e.Output, want) {
			t.Errorf("leak output lacks %q:\n%s", want, e.Output[max(len(e.Output)-300, 0):])
		}
	}
	msg := err.Error()
	if !strings.Contains(msg, "exited with code 3: ERR invalid password ***") || strings.Contains(msg, "\n") {
		t.Errorf("message %q", msg)
	}
	for _, s := range []string{token, password} {
		if strings.Contains(e.Output, s) || strings.Contains(msg, s) {
			t.Errorf("%q reached the output or the message", s)
		}
	}

	// Without the secret names, a connection string's password is still
	// masked.
	_, err = r.Run(context.Background(), agentrun.Call{Pod: testPod(), Action: "leak", Params: map[string]string{"token": token, "password": password}})
	if !errors.As(err, &e) || !strings.Contains(e.Output, "redis://default:***@cache-0:6379") {
		t.Errorf("the password in the URL reached the output: %v", err)
	}
}

// TestRefusedAndUnavailable: an action the agent does not declare is
// Refused; an agent that does not trust the controller's certificate is
// Unavailable.
func TestRefusedAndUnavailable(t *testing.T) {
	r := &agentrun.Runner{Agents: agent(t, testPod(), nil)}
	ready(t, r)
	_, err := r.Run(context.Background(), agentrun.Call{Pod: testPod(), Action: "nope"})
	if k := agentrun.KindOf(err); k != agentrun.Refused {
		t.Errorf("unknown action: %s (%v)", k, err)
	}

	other, err := pki.NewCA("other-ca", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	untrusted := &agentrun.Runner{Agents: agent(t, testPod(), &other), Timeout: 30 * time.Second}
	_, err = untrusted.Run(context.Background(), agentrun.Call{Pod: testPod(), Action: "echo", Params: map[string]string{"word": "hi"}})
	if k := agentrun.KindOf(err); k != agentrun.Unavailable {
		t.Errorf("untrusted client certificate: %s (%v)", k, err)
	}
}
