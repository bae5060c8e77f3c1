package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Durations of the material Plinth issues.
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	LeafValidity = 90 * 24 * time.Hour
	// RenewBefore: a certificate is reissued when less than this is left.
	RenewBefore = 30 * 24 * time.Hour
)

// Secret keys, as cert-manager and kubernetes.io/tls use them.
const (
	KeyCACert  = "ca.crt"
	KeyCAKey   = "ca.key"
	KeyTLSCert = "tls.crt"
	KeyTLSKey  = "tls.key"
)

// KeyPair is a certificate and its private key, PEM-encoded.
type KeyPair struct {
	CertPEM []byte
	KeyPEM  []byte
}

// Usage says what a leaf certificate is for.
type Usage int

const (
	// ServerUsage: served by procmgr and the ops agent.
	ServerUsage Usage = iota
	// ClientUsage: presented by a controller calling them.
	ClientUsage
)

// LeafRequest describes a leaf certificate.
type LeafRequest struct {
	CommonName string
	DNSNames   []string
	Usage      Usage
	Validity   time.Duration
}

// NewCA makes a self-signed CA named commonName, valid from now.
func NewCA(commonName string, now time.Time) (KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyPair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"plinth"}},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(CAValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return KeyPair{}, err
	}
	return encode(der, key)
}

// Issue signs a leaf certificate with ca.
func Issue(ca KeyPair, req LeafRequest, now time.Time) (KeyPair, error) {
	caCert, caKey, err := parse(ca)
	if err != nil {
		return KeyPair{}, fmt.Errorf("CA: %w", err)
	}
	if req.CommonName == "" {
		return KeyPair{}, errors.New("a certificate needs a common name")
	}
	validity := req.Validity
	if validity <= 0 {
		validity = LeafValidity
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyPair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: req.CommonName, Organization: []string{"plinth"}},
		DNSNames:     req.DNSNames,
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     minTime(now.Add(validity), caCert.NotAfter),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	switch req.Usage {
	case ServerUsage:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case ClientUsage:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	default:
		return KeyPair{}, fmt.Errorf("unknown usage %d", req.Usage)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return KeyPair{}, err
	}
	return encode(der, key)
}

// NeedsRenewal reports whether certPEM is missing, unreadable, not signed by
// ca, lacks one of dnsNames, or expires within RenewBefore of now.
func NeedsRenewal(certPEM []byte, caCertPEM []byte, dnsNames []string, now time.Time) (bool, string) {
	cert, err := parseCert(certPEM)
	if err != nil {
		return true, "certificate unreadable: " + err.Error()
	}
	if caCertPEM != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caCertPEM) {
			return true, "CA certificate unreadable"
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return true, "not valid under the current CA: " + err.Error()
		}
	}
	have := map[string]bool{}
	for _, n := range cert.DNSNames {
		have[n] = true
	}
	for _, n := range dnsNames {
		if !have[n] {
			return true, "missing DNS name " + n
		}
	}
	if left := cert.NotAfter.Sub(now); left < RenewBefore {
		return true, fmt.Sprintf("expires in %s", left.Round(time.Hour))
	}
	return false, ""
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("crypto/rand failed: " + err.Error()) // the OS has no entropy: nothing sensible to do
	}
	return n
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func encode(der []byte, key *ecdsa.PrivateKey) (KeyPair, error) {
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return KeyPair{}, err
	}
	return KeyPair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}),
	}, nil
}

func parseCert(certPEM []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(certPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

func parse(kp KeyPair) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cert, err := parseCert(kp.CertPEM)
	if err != nil {
		return nil, nil, err
	}
	b, _ := pem.Decode(kp.KeyPEM)
	if b == nil {
		return nil, nil, errors.New("no PEM private key")
	}
	key, err := x509.ParseECPrivateKey(b.Bytes)
	if err != nil {
		return nil, nil, err
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, errors.New("private key does not match the certificate")
	}
	return cert, key, nil
}
