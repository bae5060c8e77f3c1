// Package statusreport is the document plinth-status-agent writes to its own
// Pod's annotation status.plinth.io/report (v1alpha1.AnnotationStatusReport)
// and the workloadset-controller reads. Readers must treat it as untrusted
// input: Parse bounds its size and checks every field.
package statusreport

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Limits of a report, so that one Pod cannot bloat the API server's objects.
const (
	MaxSize        = 8 << 10
	MaxDetails     = 32
	MaxKeyLength   = 63
	MaxValueLength = 128
	MaxReasonBytes = 512
	// MaxDetailsBytes bounds the encoded details, so a report with every
	// other field at its limit still fits in MaxSize.
	MaxDetailsBytes = 6 << 10
)

// RoleUnknown is the role of a member whose probe fails or gives no role
// (the same value as v1alpha1.RoleUnknown).
const RoleUnknown = "unknown"

// rolePattern keeps roles usable as label values (plinth.io/role).
var rolePattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$`)

// Report is what the middleware in a Pod says about itself.
//
//	{"role":"primary","healthy":true,"details":{"lsn":"0/3000148","timeline":"1"},
//	 "timestamp":"2026-11-28T08:00:00Z","sequence":42}
type Report struct {
	// Role as the plugin's probe names it (primary, replica, master, slave,
	// standby, sentinel ...); "unknown" when the probe failed.
	Role string `json:"role"`
	// Healthy: the probe ran, gave a role and met the plugin's health rules.
	Healthy bool `json:"healthy"`
	// Reason says why Healthy is false.
	Reason string `json:"reason,omitempty"`
	// Details are middleware-reported values: replication offset and master
	// link (Redis), in-recovery, LSNs, timeline (PostgreSQL) ...
	Details map[string]string `json:"details,omitempty"`
	// Timestamp is when the probe ran.
	Timestamp time.Time `json:"timestamp"`
	// Sequence grows by one with every report the agent writes, across
	// agent restarts; a reader ignores a report older than one it has seen.
	Sequence int64 `json:"sequence"`
}

// ValidRole says whether s can be a role.
func ValidRole(s string) bool { return rolePattern.MatchString(s) }

// Validate checks the fields' limits.
func (r Report) Validate() error {
	var errs []error
	if !ValidRole(r.Role) {
		errs = append(errs, fmt.Errorf("role %q: want 1-63 letters, digits, '.', '_' or '-'", truncate(r.Role, 80)))
	}
	if len(r.Reason) > MaxReasonBytes {
		errs = append(errs, fmt.Errorf("reason: %d bytes, more than %d", len(r.Reason), MaxReasonBytes))
	}
	if len(r.Details) > MaxDetails {
		errs = append(errs, fmt.Errorf("details: %d entries, more than %d", len(r.Details), MaxDetails))
	}
	for k, v := range r.Details {
		if k == "" || len(k) > MaxKeyLength || len(v) > MaxValueLength {
			errs = append(errs, fmt.Errorf("details[%q]: key 1-%d bytes, value up to %d bytes", truncate(k, 80), MaxKeyLength, MaxValueLength))
		}
	}
	if r.Sequence < 0 {
		errs = append(errs, errors.New("sequence is negative"))
	}
	return errors.Join(errs...)
}

// Marshal validates and encodes the report.
func (r Report) Marshal() (string, error) {
	if err := r.Validate(); err != nil {
		return "", err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	if len(b) > MaxSize {
		return "", fmt.Errorf("report is %d bytes, more than %d", len(b), MaxSize)
	}
	return string(b), nil
}

// Parse decodes and validates an annotation value.
func Parse(s string) (Report, error) {
	var r Report
	if len(s) > MaxSize {
		return r, fmt.Errorf("report is %d bytes, more than %d", len(s), MaxSize)
	}
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return Report{}, fmt.Errorf("report is not valid JSON: %w", err)
	}
	if err := r.Validate(); err != nil {
		return Report{}, err
	}
	return r, nil
}

// SameState says whether two reports agree on role and health: a change is
// written at once, otherwise only as a heartbeat.
func (r Report) SameState(o Report) bool { return r.Role == o.Role && r.Healthy == o.Healthy }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
