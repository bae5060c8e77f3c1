package server

import "crypto/tls"

// tlsNoCert dials without a client certificate (and without checking the
// server: the point is the server's answer).
var tlsNoCert = tls.Config{InsecureSkipVerify: true} //nolint:gosec // test client
