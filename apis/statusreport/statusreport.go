package statusreport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"regexp"
	"sort"
	"time"
	"unicode/utf8"
)

// Limits of a report.
const (
	// MaxSize is the largest annotation value accepted, in bytes.
	MaxSize = 4096
	// MaxRole is the longest role name.
	MaxRole = 63
	// MaxDetails is the most entries in details.
	MaxDetails = 32
	// MaxDetailKey is the longest details key.
	MaxDetailKey = 63
	// MaxDetailValue is the longest details value, in bytes.
	MaxDetailValue = 256
	// MaxReason is the longest reason, in bytes.
	MaxReason = 256
	// MaxSequence is the largest sequence number (readers store it as int64).
	MaxSequence = math.MaxInt64
	// MaxDetailsBytes bounds the encoded details, so that a report with
	// every other field at its limit still fits in MaxSize. Writers drop
	// details beyond it.
	MaxDetailsBytes = 3 << 10
)

// RoleUnknown is the role of a member whose probe fails or gives no usable
// role (the same value as v1alpha1.RoleUnknown).
const RoleUnknown = "unknown"

// Errors wrapped by Parse and Validate; match them with errors.Is.
var (
	// ErrOversized: the annotation is larger than MaxSize.
	ErrOversized = errors.New("status report is too large")
	// ErrMalformed: the annotation is not one JSON object of the report format.
	ErrMalformed = errors.New("status report is not valid JSON of the report format")
	// ErrInvalid: a field is missing or out of range.
	ErrInvalid = errors.New("status report has an invalid field")
	// ErrStale: the report is older than the reader accepts.
	ErrStale = errors.New("status report is stale")
	// ErrFuture: the report's timestamp is too far ahead of the reader's clock.
	ErrFuture = errors.New("status report is from the future")
)

// Report is what a status agent observed about its middleware process.
type Report struct {
	// Role is what the middleware says it is (primary, replica, master, ...).
	Role string `json:"role"`
	// Healthy is the result of the plugin's status probe.
	Healthy bool `json:"healthy"`
	// Details are middleware facts such as a replication offset or LSN.
	Details map[string]string `json:"details,omitempty"`
	// Reason says why the member is unhealthy.
	Reason string `json:"reason,omitempty"`
	// Timestamp is when the probe ran.
	Timestamp time.Time `json:"timestamp"`
	// Sequence increases with every report a Pod writes.
	Sequence uint64 `json:"sequence"`
}

var (
	rolePattern      = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	detailKeyPattern = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
)

// ValidRole reports whether role is a lower-case DNS label of at most
// MaxRole characters, the form every role name takes.
func ValidRole(role string) bool {
	return len(role) <= MaxRole && rolePattern.MatchString(role)
}

// Parse decodes and validates an annotation value. It rejects values larger
// than MaxSize, anything but a single JSON object with the report's fields,
// and reports failing Validate.
func Parse(data []byte) (*Report, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrOversized, len(data), MaxSize)
	}
	if err := checkKeys(data); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// fields are the report's keys, spelled exactly.
var fields = map[string]bool{"role": true, "healthy": true, "details": true, "reason": true, "timestamp": true, "sequence": true}

// checkKeys refuses what encoding/json would quietly accept: a key spelled
// in another case ("Role", which it matches to role) and a repeated key
// (the last one wins), at the top and in details, so that every reader of
// a report sees the same report.
func checkKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok == nil {
		return nil // the decoder says what is wrong; null is an empty report
	} else if tok != json.Delim('{') {
		return errors.New("expected a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if !fields[key] {
			return fmt.Errorf("unknown field %.80q (fields are role, healthy, details, reason, timestamp, sequence, in lower case)", key)
		}
		if seen[key] {
			return fmt.Errorf("field %q appears twice", key)
		}
		seen[key] = true
		if key != "details" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
			continue
		}
		if tok, err := dec.Token(); err != nil {
			return err
		} else if tok == nil {
			continue // details: null
		} else if tok != json.Delim('{') {
			return errors.New("details is not an object")
		}
		dseen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := tok.(string)
			if dseen[k] {
				return fmt.Errorf("details key %.80q appears twice", k)
			}
			dseen[k] = true
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks every field against the format's limits.
func (r *Report) Validate() error {
	switch {
	case r.Role == "":
		return fmt.Errorf("%w: role is missing", ErrInvalid)
	case !ValidRole(r.Role):
		return fmt.Errorf("%w: role %.80q is not a lower-case DNS label of at most %d characters", ErrInvalid, r.Role, MaxRole)
	case len(r.Details) > MaxDetails:
		return fmt.Errorf("%w: %d details, the limit is %d", ErrInvalid, len(r.Details), MaxDetails)
	case len(r.Reason) > MaxReason:
		return fmt.Errorf("%w: reason is %d bytes long, the limit is %d", ErrInvalid, len(r.Reason), MaxReason)
	case r.Timestamp.IsZero():
		return fmt.Errorf("%w: timestamp is missing", ErrInvalid)
	case r.Sequence == 0:
		return fmt.Errorf("%w: sequence is missing (it starts at 1)", ErrInvalid)
	case r.Sequence > MaxSequence:
		return fmt.Errorf("%w: sequence %d is above %d", ErrInvalid, r.Sequence, uint64(MaxSequence))
	}
	for k, v := range r.Details {
		if len(k) > MaxDetailKey || !detailKeyPattern.MatchString(k) {
			return fmt.Errorf("%w: details key %.80q is not a label-like name of at most %d characters", ErrInvalid, k, MaxDetailKey)
		}
		if len(v) > MaxDetailValue {
			return fmt.Errorf("%w: details[%q] is %d bytes long, the limit is %d", ErrInvalid, k, len(v), MaxDetailValue)
		}
	}
	return nil
}

// CheckTime rejects a report older than maxAge or more than maxFuture ahead
// of now.
func (r *Report) CheckTime(now time.Time, maxAge, maxFuture time.Duration) error {
	if age := now.Sub(r.Timestamp); age > maxAge {
		return fmt.Errorf("%w: written %s ago, the limit is %s", ErrStale, age.Round(time.Second), maxAge)
	}
	if ahead := r.Timestamp.Sub(now); ahead > maxFuture {
		return fmt.Errorf("%w: timestamp is %s ahead of this clock, the limit is %s", ErrFuture, ahead.Round(time.Second), maxFuture)
	}
	return nil
}

// Marshal validates r and encodes it as an annotation value, for agents.
// Every valid report can be published: when JSON escaping (a control
// character takes six bytes) makes the encoding longer than MaxSize, details
// are dropped, last key first, and then the reason is shortened until it
// fits; r itself is not changed.
func (r *Report) Marshal() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	fit := *r
	data, err := encode(&fit)
	if err != nil {
		return nil, err
	}
	if len(data) > MaxSize && len(fit.Details) > 0 {
		keys := make([]string, 0, len(fit.Details))
		for k := range fit.Details {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fit.Details = maps.Clone(fit.Details)
		for i := len(keys) - 1; i >= 0 && len(data) > MaxSize; i-- {
			delete(fit.Details, keys[i])
			if data, err = encode(&fit); err != nil {
				return nil, err
			}
		}
	}
	for len(data) > MaxSize && fit.Reason != "" {
		n := len(fit.Reason) / 2
		for n > 0 && !utf8.RuneStart(fit.Reason[n]) {
			n--
		}
		fit.Reason = fit.Reason[:n]
		if data, err = encode(&fit); err != nil {
			return nil, err
		}
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrOversized, len(data), MaxSize)
	}
	return data, nil
}

// encode is compact JSON without HTML escaping ("<" stays one byte).
func encode(r *Report) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
