package mtls

import (
	"context"
	"crypto/x509"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Verify checks that the caller of ctx presented a client certificate signed
// by the store's current CA. It returns codes.Unauthenticated otherwise.
func Verify(ctx context.Context, s *Store) (*x509.Certificate, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "no peer information")
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "connection is not TLS")
	}
	chain := info.State.PeerCertificates
	if len(chain) == 0 {
		return nil, status.Error(codes.Unauthenticated, "a client certificate is required")
	}
	_, pool, _ := s.Load()
	if pool == nil {
		return nil, status.Error(codes.Unauthenticated, "no CA loaded")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{
		Roots:         pool,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return nil, status.Errorf(codes.Unauthenticated, "client certificate %q is not valid: %v", chain[0].Subject.CommonName, err)
	}
	return chain[0], nil
}

// ServerOptions are the grpc.Server options of a mutual-TLS server: TLS
// credentials from the store and interceptors that refuse every call (unary
// and streaming) whose caller fails Verify.
func ServerOptions(s *Store) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(ServerConfig(s))),
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if _, err := Verify(ctx, s); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if _, err := Verify(ss.Context(), s); err != nil {
				return err
			}
			return h(srv, ss)
		}),
	}
}

// DialOption is the grpc.Dial option of a mutual-TLS client.
func DialOption(s *Store, serverName string) grpc.DialOption {
	return grpc.WithTransportCredentials(credentials.NewTLS(ClientConfig(s, serverName)))
}
