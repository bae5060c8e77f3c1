package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Files names the PEM files of one side: its certificate chain, its private
// key, and the CA bundle that signs the other side's certificates.
type Files struct {
	Cert string
	Key  string
	CA   string
}

// Validate says which file names are missing.
func (f Files) Validate() error {
	var errs []error
	if f.Cert == "" {
		errs = append(errs, errors.New("certificate file is required"))
	}
	if f.Key == "" {
		errs = append(errs, errors.New("key file is required"))
	}
	if f.CA == "" {
		errs = append(errs, errors.New("CA file is required"))
	}
	return errors.Join(errs...)
}

type stamp struct {
	size  int64
	mtime time.Time
	ino   uint64
}

func stat(path string) (stamp, error) {
	fi, err := os.Stat(path) // follows the ..data symlinks of Secret volumes
	if err != nil {
		return stamp{}, err
	}
	s := stamp{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(interface{ Ino() uint64 }); ok {
		s.ino = st.Ino()
	}
	return s, nil
}

// Store holds the key pair and CA pool loaded from Files and reloads them when
// a file's size, modification time or inode changes. A reload that fails
// keeps the last good material (a half-written rotation does not take the
// server down) and is reported by Load's error.
type Store struct {
	files Files

	mu     sync.Mutex
	stamps [3]stamp
	cert   *tls.Certificate
	pool   *x509.CertPool
}

// NewStore loads the files once; it fails when they are unusable.
func NewStore(files Files) (*Store, error) {
	if err := files.Validate(); err != nil {
		return nil, err
	}
	s := &Store{files: files}
	if _, _, err := s.Load(); err != nil {
		return nil, err
	}
	return s, nil
}

// Load returns the current key pair and CA pool, re-reading the files first
// when they changed.
func (s *Store) Load() (*tls.Certificate, *x509.CertPool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var now [3]stamp
	var err error
	for i, p := range []string{s.files.Cert, s.files.Key, s.files.CA} {
		if now[i], err = stat(p); err != nil {
			return s.cert, s.pool, s.fail(err)
		}
	}
	if s.cert != nil && now == s.stamps {
		return s.cert, s.pool, nil
	}
	cert, err := tls.LoadX509KeyPair(s.files.Cert, s.files.Key)
	if err != nil {
		return s.cert, s.pool, s.fail(fmt.Errorf("loading key pair %s, %s: %w", s.files.Cert, s.files.Key, err))
	}
	caPEM, err := os.ReadFile(s.files.CA)
	if err != nil {
		return s.cert, s.pool, s.fail(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return s.cert, s.pool, s.fail(fmt.Errorf("%s holds no PEM certificate", s.files.CA))
	}
	s.cert, s.pool, s.stamps = &cert, pool, now
	return s.cert, s.pool, nil
}

func (s *Store) fail(err error) error {
	if s.cert == nil {
		return err
	}
	return fmt.Errorf("keeping the previously loaded certificates: %w", err)
}

// ServerConfig is a TLS configuration for a gRPC server that presents the
// store's current certificate and requests a client certificate. The client
// certificate is verified by Verify (see the package doc), not here.
func ServerConfig(s *Store) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			cert, _, err := s.Load()
			if cert == nil {
				return nil, err
			}
			return &tls.Config{
				MinVersion:   tls.VersionTLS12,
				Certificates: []tls.Certificate{*cert},
				ClientAuth:   tls.RequestClientCert,
			}, nil
		},
	}
}

// ClientConfig is a TLS configuration for dialling a server whose
// certificate names serverName and is signed by the store's CA, presenting
// the store's certificate.
func ClientConfig(s *Store, serverName string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: serverName,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			cert, _, err := s.Load()
			if cert == nil {
				return nil, err
			}
			return cert, nil
		},
		// RootCAs cannot change after the config is built, so verify here
		// against the current CA file.
		InsecureSkipVerify: true, //nolint:gosec // verified in VerifyConnection below
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, pool, err := s.Load()
			if pool == nil {
				return err
			}
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server presented no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err = cs.PeerCertificates[0].Verify(x509.VerifyOptions{
				DNSName:       serverName,
				Roots:         pool,
				Intermediates: inter,
				KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			return err
		},
	}
}
