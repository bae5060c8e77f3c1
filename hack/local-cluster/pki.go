package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certSpec describes one client or serving certificate signed by the cluster CA.
type certSpec struct {
	name   string // file name stem under pki/
	cn     string
	orgs   []string
	server bool
	dns    []string
	ips    []string
}

// clientCerts are the identities of the cluster's components. The built-in
// RBAC roles of Kubernetes know these user names.
var clientCerts = []certSpec{
	{name: "admin", cn: "plinth-admin", orgs: []string{"system:masters"}},
	{name: "kube-controller-manager", cn: "system:kube-controller-manager"},
	{name: "kube-scheduler", cn: "system:kube-scheduler"},
	{name: "kube-proxy", cn: "system:kube-proxy"},
	{name: "kubelet", cn: "system:node:" + nodeName, orgs: []string{"system:nodes"}},
	{name: "apiserver-kubelet-client", cn: "kube-apiserver-kubelet-client", orgs: []string{"system:masters"}},
}

type pki struct {
	dir    string
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
}

// writePKI creates the CA, the serving and client certificates and the
// service-account signing key under dir.
func writePKI(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	p := &pki{dir: dir}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "plinth-local-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	if p.caCert, err = x509.ParseCertificate(der); err != nil {
		return err
	}
	p.caKey = key
	if err := p.write("ca", der, key); err != nil {
		return err
	}
	specs := append([]certSpec{{
		name: "apiserver", cn: "kube-apiserver", server: true,
		dns: []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + clusterDNS, "localhost"},
		ips: []string{"127.0.0.1", apiServiceIP, bridgeIP},
	}, {
		name: "kubelet-serving", cn: nodeName, server: true,
		dns: []string{nodeName, "localhost"}, ips: []string{"127.0.0.1", bridgeIP},
	}}, clientCerts...)
	for i, s := range specs {
		if err := p.issue(s, int64(i+2)); err != nil {
			return fmt.Errorf("certificate %s: %w", s.name, err)
		}
	}
	// The service-account token signing key pair.
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(saKey)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(dir, "sa.key"), "EC PRIVATE KEY", keyDER, 0o600); err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, "sa.pub"), "PUBLIC KEY", pubDER, 0o644)
}

func (p *pki) issue(s certSpec, serial int64) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: s.cn, Organization: s.orgs},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		DNSNames:     s.dns,
	}
	if s.server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	for _, ip := range s.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		return err
	}
	return p.write(s.name, der, key)
}

func (p *pki) write(name string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(p.dir, name+".crt"), "CERTIFICATE", der, 0o644); err != nil {
		return err
	}
	return writePEM(filepath.Join(p.dir, name+".key"), "EC PRIVATE KEY", keyDER, 0o600)
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}

// kubeconfig renders a kubeconfig for the certificate name under pki/.
func kubeconfig(pkiDir, name, server string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: plinth-local
  cluster:
    certificate-authority: %[1]s/ca.crt
    server: %[3]s
users:
- name: %[2]s
  user:
    client-certificate: %[1]s/%[2]s.crt
    client-key: %[1]s/%[2]s.key
contexts:
- name: plinth-local
  context:
    cluster: plinth-local
    user: %[2]s
current-context: plinth-local
`, pkiDir, name, server)
}
