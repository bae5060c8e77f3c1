// Package mtls serves and dials Plinth's in-pod gRPC APIs (procmgr.v1,
// agent.v1) with mutual TLS. Certificates, keys and the CA come from mounted
// files and are re-read when the files change (Secret rotation), without a
// restart.
//
// The server asks for a client certificate during the handshake but checks it
// in a gRPC interceptor, against the CA files' current content, so a caller
// without a valid certificate (none, expired, or signed by another CA) gets
// codes.Unauthenticated rather than an opaque handshake failure. The client's
// TLS handshake still proves it holds the certificate's private key.
package mtls
