// Package statusreport is the format of the status report a Plinth status
// agent writes on its own Pod, in the annotation status.plinth.io/report, and
// the parser the workloadset-controller reads it with.
//
// # Format
//
// One JSON object, at most MaxSize bytes, with exactly these fields, each at
// most once and spelled in lower case (unknown, repeated or differently cased
// fields are an error, as is a details key given twice):
//
//	{
//	  "role":      "primary",              // required; lower-case DNS label, at most 63 characters
//	  "healthy":   true,                   // required in spirit; absent means false
//	  "details":   {"lsn": "0/3000060"},   // optional; at most MaxDetails entries, keys like
//	                                       // Kubernetes label names (at most 63), values at most MaxDetailValue bytes
//	  "reason":    "",                     // optional; why the member is unhealthy, at most MaxReason bytes
//	  "timestamp": "2026-11-28T08:00:00Z", // required; RFC 3339, when the probe ran
//	  "sequence":  42                      // required; 1 ... 2^63-1, strictly increasing per Pod
//	}
//
// [Report.Marshal] encodes without HTML escaping and makes every valid report
// fit in MaxSize: when escaping (a control character takes six bytes) makes it
// longer, details are dropped and then the reason shortened.
//
// The agent writes a new report every heartbeat (WorkloadSet
// spec.heartbeatSeconds) even when nothing changed, with a new timestamp and
// the next sequence number. A Pod that is recreated (new UID) starts again at
// sequence 1. The role "unknown" means the probe could not tell.
//
// # Trust
//
// The report is untrusted input. [Parse] rejects anything oversized,
// malformed or out of range with an error wrapping [ErrOversized],
// [ErrMalformed] or [ErrInvalid]; it never panics. Whether a valid report is
// also fresh (not older than three heartbeats, not from the future) and new
// (sequence above the last accepted one) is the reader's decision, since it
// needs the clock and the previous report: see [Report.CheckTime].
package statusreport
