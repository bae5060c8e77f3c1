package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"sigs.k8s.io/yaml"

	agentv1 "github.com/plinth-io/plinth/proto/gen/agent/v1"

	mwt "github.com/plinth-io/plinth/internal/middlewaretest"
	"github.com/plinth-io/plinth/internal/mtls"
	"github.com/plinth-io/plinth/internal/mtls/mtlstest"
	"github.com/plinth-io/plinth/pluginregistry"
	"github.com/plinth-io/plinth/runtimeconfig"
)

var binary string

func TestMain(m *testing.M) {
	bin, remove, err := mwt.Build(".", "plinth-ops-agent")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = bin
	code := m.Run()
	remove()
	os.Exit(code)
}

// TestBinary runs plinth-ops-agent as its container does and calls it with
// a valid client certificate.
func TestBinary(t *testing.T) {
	c, cmd, done := launchAgent(t, `
actions:
  - name: echo
    argv: [echo, "{{.word}}"]
    parameters: [{name: word, type: string, required: true}]
`)
	var (
		resp *agentv1.ExecuteResponse
		err  error
	)
	mwt.Eventually(t, 60*time.Second, "Execute echo", func() error {
		resp, err = c.Execute(context.Background(), &agentv1.ExecuteRequest{Action: "echo", Parameters: map[string]string{"word": "a b; c"}})
		return err
	})
	if resp.GetOutput() != "a b; c\n" || resp.GetExitCode() != 0 {
		t.Errorf("Execute = %v", resp)
	}
	if _, err := c.Execute(context.Background(), &agentv1.ExecuteRequest{Action: "echo"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("missing parameter: %v", err)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no exit on SIGTERM")
	}
}

func TestBadActionFileIsRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	actions := filepath.Join(dir, "actions.yaml")
	_ = os.WriteFile(actions, []byte("actions: [{name: BAD, argv: []}]"), 0o600)
	out, err := exec.Command(binary, "--actions", actions).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "name must be") {
		t.Errorf("bad action file: %v\n%s", err, out)
	}
}

// TestClusterBootstrapOf16ShardsIsAccepted gives the real ops agent the
// action file the component-controller writes for plugin redis v1.2.0's
// cluster topology and calls cluster-bootstrap with 16 shards of 1+1 pods
// whose DNS names are as long as Kubernetes allows: the members argument
// (about 6 KiB) passes the agent's checks. More members than the
// plugin's largest topology (64 shards of 8) is refused.
func TestClusterBootstrapOf16ShardsIsAccepted(t *testing.T) {
	src, err := pluginregistry.FromFolder("../../plugins/redis/v1.2.0", pluginregistry.DefaultNamespace)
	if err != nil {
		t.Fatal(err)
	}
	pv, err := pluginregistry.Build(src.Plugin, src.Version, src.ConfigMaps)
	if err != nil {
		t.Fatal(err)
	}
	def := pv.Component("redis")
	a := pv.Action(pv.Topology("cluster").Components[0].Bootstrap.Action)
	argv, err := pluginregistry.AgentArgv(a, pluginregistry.Context{Ports: map[string]int32{"redis": 6379, "bus": 16379}})
	if err != nil {
		t.Fatal(err)
	}
	file := runtimeconfig.Actions{Actions: []runtimeconfig.Action{{Name: a.Name, Argv: argv, Parameters: pv.AgentParameters(def, a)}}}
	data, err := yaml.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	c := startAgent(t, string(data))

	label := func(prefix string, i int) string {
		return (prefix + strings.Repeat("x", 63))[:60] + fmt.Sprintf("%03d", i)
	}
	members := func(n int) string {
		var ms []string
		for i := range n {
			ms = append(ms, label("pod", i)+"."+label("svc", 0)+"."+label("ns", 0)+".svc:6379")
		}
		return strings.Join(ms, " ")
	}
	m := members(16 * 2)
	if len(m) <= runtimeconfig.DefaultMaxLength {
		t.Fatalf("members is %d bytes: the test needs more than the default limit", len(m))
	}
	// The action itself runs (it finds no redis and fails, or is cut at
	// the deadline): what matters is that the agent accepted the call.
	_, err = c.Execute(context.Background(), &agentv1.ExecuteRequest{Action: a.Name, TimeoutSeconds: 1,
		Parameters: map[string]string{"members": m, "shards": "16", "replicas": "2"}})
	if code := status.Code(err); code != codes.OK && code != codes.DeadlineExceeded {
		t.Fatalf("cluster-bootstrap with 16 shards of 1+1 (%d bytes of members): %v", len(m), err)
	}
	_, err = c.Execute(context.Background(), &agentv1.ExecuteRequest{Action: a.Name, TimeoutSeconds: 1,
		Parameters: map[string]string{"members": members(600), "shards": "64", "replicas": "8"}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("members beyond the largest topology: %v, want InvalidArgument (longer than)", err)
	}
}

// startAgent runs plinth-ops-agent with the actions file content and
// returns a client with a valid certificate.
func startAgent(t *testing.T, actionsYAML string) agentv1.AgentServiceClient {
	t.Helper()
	c, _, _ := launchAgent(t, actionsYAML)
	mwt.Eventually(t, 60*time.Second, "ListActions", func() error {
		_, err := c.ListActions(context.Background(), &agentv1.ListActionsRequest{})
		return err
	})
	return c
}

// launchAgent starts plinth-ops-agent serving actionsYAML with mutual TLS
// and returns a client with a valid certificate, the process and a channel
// that receives its exit (killed at cleanup).
func launchAgent(t *testing.T, actionsYAML string) (agentv1.AgentServiceClient, *exec.Cmd, chan error) {
	t.Helper()
	dir := t.TempDir()
	ca := mtlstest.NewCA(t, "app-ca")
	server := ca.Write(t, dir, "server", "ops-agent", true, ca)
	client := ca.Write(t, dir, "client", "operation-controller", false, ca)
	actions := filepath.Join(dir, "actions.yaml")
	if err := os.WriteFile(actions, []byte(actionsYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", mwt.FreePort(t))
	cmd := exec.Command(binary, "--actions", actions, "--grpc-address", addr,
		"--tls-cert", server.Cert, "--tls-key", server.Key, "--tls-client-ca", server.CA,
		"--report-file", filepath.Join(dir, "status.json"), "--log-format", "console")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	store, err := mtls.NewStore(client)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, mtls.DialOption(store, "localhost"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return agentv1.NewAgentServiceClient(conn), cmd, done
}
