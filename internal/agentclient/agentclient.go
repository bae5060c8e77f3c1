package agentclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentv1 "github.com/plinth-io/plinth/proto/gen/agent/v1"
	procmgrv1 "github.com/plinth-io/plinth/proto/gen/procmgr/v1"

	"github.com/plinth-io/plinth/internal/naming"
	"github.com/plinth-io/plinth/internal/pki"
)

// Port is the ops agent's mutual-TLS port (plinth-ops-agent --grpc-address).
const Port = 9442

// Pod names one pod's ops agent.
type Pod struct {
	// Namespace, Name and Service (the headless Service giving the pod its
	// stable DNS name, the WorkloadSet's spec.serviceName).
	Namespace, Name, Service string
	// Application owns the pod; its controller certificate is used.
	Application string
}

// DNSName is the pod's stable DNS name, which the agent's certificate names.
func (p Pod) DNSName() string { return p.Name + "." + p.Service + "." + p.Namespace + ".svc" }

func (p Pod) validate() error {
	var errs []error
	for _, f := range []struct{ name, v string }{{"namespace", p.Namespace}, {"pod name", p.Name}, {"service", p.Service}, {"application", p.Application}} {
		if f.v == "" {
			errs = append(errs, fmt.Errorf("agentclient: the %s is empty", f.name))
		}
	}
	return errors.Join(errs...)
}

// Resolver returns the address (host:port) to dial for pod.
type Resolver func(ctx context.Context, pod Pod) (string, error)

// DNS dials the pod's stable DNS name on Port.
func DNS(_ context.Context, pod Pod) (string, error) {
	return net.JoinHostPort(pod.DNSName(), strconv.Itoa(Port)), nil
}

// Client calls ops agents. The zero value is not usable: set Reader.
type Client struct {
	// Reader reads the Application's controller certificate Secret.
	Reader client.Reader
	// Resolve gives the address to dial; nil means DNS.
	Resolve Resolver
	// ResolveProcmgr gives the address of a pod's procmgr; nil means the
	// pod's DNS name on ProcmgrPort.
	ResolveProcmgr Resolver
}

// Execute runs req on pod's ops agent. A non-zero exit code is a normal
// answer (ExecuteResponse.ExitCode); errors are the gRPC status of the call
// (NotFound, InvalidArgument, Unauthenticated, Unavailable, DeadlineExceeded)
// or a problem with the certificate Secret.
func (c *Client) Execute(ctx context.Context, pod Pod, req *agentv1.ExecuteRequest) (*agentv1.ExecuteResponse, error) {
	conn, err := c.dial(ctx, pod)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return agentv1.NewAgentServiceClient(conn).Execute(ctx, req)
}

func (c *Client) dial(ctx context.Context, pod Pod) (*grpc.ClientConn, error) {
	if err := pod.validate(); err != nil {
		return nil, err
	}
	cfg, err := c.tlsConfig(ctx, pod)
	if err != nil {
		return nil, err
	}
	resolve := c.Resolve
	if resolve == nil {
		resolve = DNS
	}
	addr, err := resolve(ctx, pod)
	if err != nil {
		return nil, fmt.Errorf("agentclient: resolving the ops agent of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		return nil, fmt.Errorf("agentclient: ops agent of pod %s/%s at %s: %w", pod.Namespace, pod.Name, addr, err)
	}
	return conn, nil
}

// tlsConfig presents the controller certificate and verifies the agent
// against the Application's CA and the pod's DNS name.
func (c *Client) tlsConfig(ctx context.Context, pod Pod) (*tls.Config, error) {
	name := naming.AgentClientSecret(pod.Application)
	s := &corev1.Secret{}
	if err := c.Reader.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: name}, s); err != nil {
		return nil, fmt.Errorf("agentclient: reading the controller certificate Secret %s/%s: %w", pod.Namespace, name, err)
	}
	cert, err := tls.X509KeyPair(s.Data[pki.KeyTLSCert], s.Data[pki.KeyTLSKey])
	if err != nil {
		return nil, fmt.Errorf("agentclient: Secret %s/%s keys %s and %s do not hold a usable key pair", pod.Namespace, name, pki.KeyTLSCert, pki.KeyTLSKey)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.Data[pki.KeyCACert]) {
		return nil, fmt.Errorf("agentclient: Secret %s/%s key %s holds no PEM certificate", pod.Namespace, name, pki.KeyCACert)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ServerName:   pod.DNSName(),
	}, nil
}

// ProcmgrPort is procmgr's mutual-TLS port (plinth-procmgr --grpc-address).
// It serves the same certificate as the ops agent (the pod's agent TLS
// Secret), so the same client certificate and server name verify it.
const ProcmgrPort = 9440

// Procmgr dials pod's procmgr: the returned client is valid until close is
// called. The address is the pod's stable DNS name on ProcmgrPort, or
// ResolveProcmgr's.
func (c *Client) Procmgr(ctx context.Context, pod Pod) (procmgrv1.ProcessManagerServiceClient, func(), error) {
	if err := pod.validate(); err != nil {
		return nil, nil, err
	}
	cfg, err := c.tlsConfig(ctx, pod)
	if err != nil {
		return nil, nil, err
	}
	addr := net.JoinHostPort(pod.DNSName(), strconv.Itoa(ProcmgrPort))
	if c.ResolveProcmgr != nil {
		if addr, err = c.ResolveProcmgr(ctx, pod); err != nil {
			return nil, nil, fmt.Errorf("agentclient: resolving the procmgr of pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
	}
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		return nil, nil, fmt.Errorf("agentclient: procmgr of pod %s/%s at %s: %w", pod.Namespace, pod.Name, addr, err)
	}
	return procmgrv1.NewProcessManagerServiceClient(conn), func() { _ = conn.Close() }, nil
}
