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

	agentv1 "github.com/plinth-io/plinth/proto/gen/agent/v1"

	mwt "github.com/plinth-io/plinth/internal/middlewaretest"
	"github.com/plinth-io/plinth/internal/mtls"
	"github.com/plinth-io/plinth/internal/mtls/mtlstest"
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
	dir := t.TempDir()
	ca := mtlstest.NewCA(t, "app-ca")
	server := ca.Write(t, dir, "server", "ops-agent", true, ca)
	client := ca.Write(t, dir, "client", "operation-controller", false, ca)
	actions := filepath.Join(dir, "actions.yaml")
	if err := os.WriteFile(actions, []byte(`
actions:
  - name: echo
    argv: [echo, "{{.word}}"]
    parameters: [{name: word, type: string, required: true}]
`), 0o600); err != nil {
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
	defer conn.Close()
	c := agentv1.NewAgentServiceClient(conn)
	var resp *agentv1.ExecuteResponse
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
