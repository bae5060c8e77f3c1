package server

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	agentv1 "github.com/plinth-io/plinth/proto/gen/agent/v1"

	"github.com/plinth-io/plinth/agents/ops/internal/actions"
	"github.com/plinth-io/plinth/apis/statusreport"
	mwt "github.com/plinth-io/plinth/internal/middlewaretest"
	"github.com/plinth-io/plinth/internal/mtls"
	"github.com/plinth-io/plinth/internal/mtls/mtlstest"
	"github.com/plinth-io/plinth/runtimeconfig"
)

// The first actions of the Redis plugin, as it declares them.
const redisActions = `
actions:
  - name: config-set
    description: Set one dynamic Redis parameter.
    argv: [redis-cli, -h, 127.0.0.1, -p, "%d", CONFIG, SET, "{{.parameter}}", "{{.value}}"]
    parameters:
      - {name: parameter, type: enum, required: true, allowedValues: [maxmemory, maxmemory-policy, timeout]}
      - {name: value, type: string, required: true, pattern: '[A-Za-z0-9-]+', maxLength: 64}
    timeout: 10s
  - name: acl-setuser
    description: Create or update an ACL user with a password.
    argv: [redis-cli, -h, 127.0.0.1, -p, "%d", ACL, SETUSER, "{{.user}}", "on", ">{{.password}}", "~*", "+@read"]
    parameters:
      - {name: user, type: string, required: true, pattern: '[a-z][a-z0-9_-]*', maxLength: 32}
      - {name: password, type: string, required: true, maxLength: 128}
    timeout: 10s
  - name: slow
    argv: [sleep, "30"]
    timeout: 20s
`

// serve runs the service with mutual TLS on a loopback port and returns a
// client with a valid certificate and the address.
func serve(t *testing.T, doc, reportFile string) (agentv1.AgentServiceClient, string, *mtlstest.CA) {
	t.Helper()
	a, err := runtimeconfig.ParseActions([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ca := mtlstest.NewCA(t, "app-ca")
	store, err := mtls.NewStore(ca.Write(t, dir, "server", "ops-agent", true, ca))
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(mtls.ServerOptions(store)...)
	agentv1.RegisterAgentServiceServer(gs, New(Options{Catalog: actions.NewCatalog(a), ReportFile: reportFile, Log: testr.New(t)}))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	return dial(t, lis.Addr().String(), ca.Write(t, dir, "client", "operation-controller", false, ca)), lis.Addr().String(), ca
}

func dial(t *testing.T, addr string, f mtls.Files) agentv1.AgentServiceClient {
	t.Helper()
	s, err := mtls.NewStore(f)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, mtls.DialOption(s, "localhost"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return agentv1.NewAgentServiceClient(conn)
}

func TestRedisActionsOverMutualTLS(t *testing.T) {
	mwt.Need(t, "redis-cli")
	port, rc := mwt.StartRedis(t)
	c, addr, ca := serve(t, fmt.Sprintf(redisActions, port, port), "")
	ctx := context.Background()

	list, err := c.ListActions(ctx, &agentv1.ListActionsRequest{})
	if err != nil || len(list.GetActions()) != 3 || list.GetActions()[0].GetParameters()[0].GetAllowedValues()[1] != "maxmemory-policy" {
		t.Fatalf("ListActions = %v, %v", list, err)
	}

	resp, err := c.Execute(ctx, &agentv1.ExecuteRequest{Action: "config-set", Parameters: map[string]string{"parameter": "maxmemory-policy", "value": "allkeys-lru"}})
	if err != nil || resp.GetExitCode() != 0 || strings.TrimSpace(resp.GetOutput()) != "OK" {
		t.Fatalf("Execute config-set = %v, %v", resp, err)
	}
	if got, err := rc.ConfigGet(ctx, "maxmemory-policy").Result(); err != nil || got["maxmemory-policy"] != "allkeys-lru" {
		t.Errorf("CONFIG GET maxmemory-policy = %v, %v", got, err)
	}

	// A password with shell syntax is one argument: redis gets exactly it.
	pw := `p4ss; rm -rf / $(id) "'`
	if resp, err := c.Execute(ctx, &agentv1.ExecuteRequest{Action: "acl-setuser", Parameters: map[string]string{"user": "reader", "password": pw}}); err != nil || resp.GetExitCode() != 0 {
		t.Fatalf("acl-setuser = %v, %v", resp, err)
	}
	if ok, err := rc.Do(ctx, "AUTH", "reader", pw).Result(); err != nil || ok != "OK" {
		t.Errorf("AUTH with the literal password = %v, %v", ok, err)
	}

	for name, tc := range map[string]struct {
		req  *agentv1.ExecuteRequest
		code codes.Code
	}{
		"unknown action":      {&agentv1.ExecuteRequest{Action: "flushall"}, codes.NotFound},
		"not allowed":         {&agentv1.ExecuteRequest{Action: "config-set", Parameters: map[string]string{"parameter": "dir", "value": "tmp"}}, codes.InvalidArgument},
		"injection":           {&agentv1.ExecuteRequest{Action: "config-set", Parameters: map[string]string{"parameter": "maxmemory", "value": "1; rm -rf /"}}, codes.InvalidArgument},
		"missing":             {&agentv1.ExecuteRequest{Action: "config-set", Parameters: map[string]string{"parameter": "maxmemory"}}, codes.InvalidArgument},
		"negative timeout":    {&agentv1.ExecuteRequest{Action: "slow", TimeoutSeconds: -1}, codes.InvalidArgument},
		"caller timeout wins": {&agentv1.ExecuteRequest{Action: "slow", TimeoutSeconds: 1}, codes.DeadlineExceeded},
	} {
		if _, err := c.Execute(ctx, tc.req); status.Code(err) != tc.code {
			t.Errorf("%s: %v, want %s", name, err, tc.code)
		}
	}

	// No client certificate, or one of another CA: Unauthenticated.
	other := mtlstest.NewCA(t, "other")
	stranger := dial(t, addr, other.Write(t, t.TempDir(), "c", "x", false, ca))
	if _, err := stranger.ListActions(ctx, &agentv1.ListActionsRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("client of another CA: %v, want Unauthenticated", err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(&tlsNoCert)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := agentv1.NewAgentServiceClient(conn).Execute(ctx, &agentv1.ExecuteRequest{Action: "config-set"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("no client certificate: %v, want Unauthenticated", err)
	}
}

func TestStatusReadsTheStatusAgentsReport(t *testing.T) {
	file := filepath.Join(t.TempDir(), "status.json")
	c, _, _ := serve(t, "actions: []", file)
	ctx := context.Background()
	if r, err := c.Status(ctx, &agentv1.StatusRequest{}); err != nil || r.GetRole() != statusreport.RoleUnknown {
		t.Errorf("no report yet: %v, %v", r, err)
	}
	rep, err := (&statusreport.Report{Role: "primary", Healthy: true, Details: map[string]string{"lsn": "0/1"}, Timestamp: time.Now(), Sequence: 1}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(rep), 0o600); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Status(ctx, &agentv1.StatusRequest{}); err != nil || r.GetRole() != "primary" || !r.GetHealthy() || r.GetDetails()["lsn"] != "0/1" {
		t.Errorf("Status = %v, %v", r, err)
	}
	_ = os.WriteFile(file, []byte("{garbage"), 0o600)
	if _, err := c.Status(ctx, &agentv1.StatusRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("garbage report: %v, want Unavailable", err)
	}
}
