// Package pki issues the certificates that secure Plinth's in-pod gRPC
// (procmgr.v1, agent.v1) with mutual TLS: one CA per Application, a server
// certificate per Component (its pods' DNS names) and a client certificate
// for the controllers that call the agents.
//
// Everything is pure: keys and certificates go in and out as PEM so that the
// controllers can keep them in Secrets and decide on rotation with NeedsRenewal.
package pki
