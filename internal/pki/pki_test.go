package pki

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// A server and a client certificate from one CA complete a real mutual-TLS
// handshake; a client from another CA is refused.
func TestMutualTLSHandshake(t *testing.T) {
	now := time.Now()
	ca, err := NewCA("app-ca", now)
	if err != nil {
		t.Fatal(err)
	}
	server, err := Issue(ca, LeafRequest{CommonName: "redis", DNSNames: []string{"localhost"}, Usage: ServerUsage}, now)
	if err != nil {
		t.Fatal(err)
	}
	client, err := Issue(ca, LeafRequest{CommonName: "operation-controller", Usage: ClientUsage}, now)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewCA("other-ca", now)
	stranger, _ := Issue(other, LeafRequest{CommonName: "stranger", Usage: ClientUsage}, now)

	if err := handshake(t, ca, server, client); err != nil {
		t.Fatalf("same CA: %v", err)
	}
	if err := handshake(t, ca, server, stranger); err == nil {
		t.Fatal("a client certificate from another CA was accepted")
	}
}

func handshake(t *testing.T, ca, server, client KeyPair) error {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	sc, err := tls.X509KeyPair(server.CertPEM, server.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := tls.X509KeyPair(client.CertPEM, client.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{sc}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		_ = c.(*tls.Conn).Handshake()
		_, _ = c.Write([]byte("ok"))
		c.Close()
	}()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", l.Addr().String(), &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cc}, ServerName: "localhost", MinVersion: tls.VersionTLS13})
	if err != nil {
		return err
	}
	defer conn.Close()
	// With TLS 1.3 the server's verdict on the client arrives with the first read.
	_, err = io.ReadAll(conn)
	return err
}

func TestNeedsRenewal(t *testing.T) {
	now := time.Now()
	ca, _ := NewCA("ca", now)
	other, _ := NewCA("other", now)
	cert, _ := Issue(ca, LeafRequest{CommonName: "c", DNSNames: []string{"a.svc"}, Usage: ServerUsage}, now)
	for _, tc := range []struct {
		name     string
		cert, ca []byte
		dns      []string
		at       time.Time
		renew    bool
		because  string
	}{
		{"fresh", cert.CertPEM, ca.CertPEM, []string{"a.svc"}, now, false, ""},
		{"garbage", []byte("not pem"), ca.CertPEM, nil, now, true, "unreadable"},
		{"new DNS name", cert.CertPEM, ca.CertPEM, []string{"a.svc", "b.svc"}, now, true, "missing DNS name b.svc"},
		{"close to expiry", cert.CertPEM, ca.CertPEM, nil, now.Add(LeafValidity - RenewBefore + time.Hour), true, "expires in"},
		{"CA replaced", cert.CertPEM, other.CertPEM, nil, now, true, "not valid under the current CA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			renew, why := NeedsRenewal(tc.cert, tc.ca, tc.dns, tc.at)
			if renew != tc.renew || !strings.Contains(why, tc.because) {
				t.Fatalf("NeedsRenewal = %v %q, want %v %q", renew, why, tc.renew, tc.because)
			}
		})
	}
}

func TestIssueRejectsBadInput(t *testing.T) {
	now := time.Now()
	ca, _ := NewCA("ca", now)
	other, _ := NewCA("other", now)
	if _, err := Issue(KeyPair{CertPEM: ca.CertPEM, KeyPEM: other.KeyPEM}, LeafRequest{CommonName: "x"}, now); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("mismatched CA key: %v", err)
	}
	if _, err := Issue(ca, LeafRequest{}, now); err == nil || !strings.Contains(err.Error(), "common name") {
		t.Fatalf("no common name: %v", err)
	}
}
