// Package agentrun is the one way controllers run ops-agent actions
// (agent.v1 Execute, docs/runtime.md): bootstrap, reshard, switchover and
// the Operation controller's agent steps.
//
// A Runner calls one pod's agent through an Executor (agentclient.Client:
// mutual TLS with the Application's controller certificate, the agent
// verified against the Application's CA and the pod's DNS name) under a
// timeout per call, which is also sent to the agent so that it kills the
// action's process group when the time is up.
//
// What comes back is untrusted and may hold credentials, so before anything
// leaves the runner (the Result, an *Error, a log line) it is redacted and
// capped:
//   - the values the caller names as secret (the credentials Secret's
//     values, the values of the action's secret parameters and env) are
//     replaced by "***", including a value cut short where the agent
//     truncated its output;
//   - well-known shapes of credentials are replaced whatever their value:
//     password=…, "token": "…", --password …, redis-cli -a …, AUTH …,
//     requirepass/masterauth …, PASSWORD '…', Bearer …, user:pass@ in
//     connection URLs, PEM private key blocks;
//   - control characters other than newline and tab are dropped and the
//     output is cut to its last MaxOutput bytes (DefaultMaxOutput, 4 KiB),
//     the end being where a failing command says why.
//
// Failures are *Error values that say what kind of failure it was
// (Unavailable, Refused, Timeout, Exited) so that a caller can pick its
// condition reason, and whose message is one line a condition can show.
// The runner logs each call (action, pod, parameter names, never their
// values) and its outcome.
package agentrun
