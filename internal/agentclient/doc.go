// Package agentclient calls the ops agent (agent.v1, docs/runtime.md) of one
// pod from a controller, with mutual TLS.
//
// The client dials <pod>.<headless service>.<namespace>.svc:9442, presents
// the Application's controller certificate from the Secret
// <app>-agent-client (naming.AgentClientSecret: tls.crt, tls.key, ca.crt,
// issued by the component-controller) and accepts the agent only when its
// certificate is signed by that CA and names the pod's DNS name (the agents'
// certificate covers *.<headless service>.<namespace>.svc).
//
// The Secret is read on every call, so a renewed certificate is used at
// once; nothing it holds is logged or returned in errors. Resolve lets a
// test dial a real ops-agent process on 127.0.0.1 while the server name is
// still checked against the pod's DNS name.
package agentclient
