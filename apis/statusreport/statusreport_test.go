package statusreport

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	ts := `"timestamp":"2026-11-28T08:00:00Z"`
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"valid", `{"role":"primary","healthy":true,"details":{"lsn":"0/3000060"},"reason":"",` + ts + `,"sequence":1}`, nil},
		{"valid without optional fields", `{"role":"unknown",` + ts + `,"sequence":7}`, nil},
		{"empty", ``, ErrMalformed},
		{"not an object", `"primary"`, ErrMalformed},
		{"array", `[]`, ErrMalformed},
		{"null", `null`, ErrInvalid},
		{"unknown field", `{"role":"primary",` + ts + `,"sequence":1,"extra":1}`, ErrMalformed},
		{"trailing data", `{"role":"primary",` + ts + `,"sequence":1} {}`, ErrMalformed},
		{"wrong type", `{"role":7,` + ts + `,"sequence":1}`, ErrMalformed},
		{"negative sequence", `{"role":"primary",` + ts + `,"sequence":-1}`, ErrMalformed},
		{"sequence above int64", `{"role":"primary",` + ts + `,"sequence":9223372036854775808}`, ErrInvalid},
		{"zero sequence", `{"role":"primary",` + ts + `,"sequence":0}`, ErrInvalid},
		{"missing role", `{` + ts + `,"sequence":1}`, ErrInvalid},
		{"upper-case role", `{"role":"Primary",` + ts + `,"sequence":1}`, ErrInvalid},
		{"role with a slash", `{"role":"a/b",` + ts + `,"sequence":1}`, ErrInvalid},
		{"long role", `{"role":"` + strings.Repeat("a", 64) + `",` + ts + `,"sequence":1}`, ErrInvalid},
		{"missing timestamp", `{"role":"primary","sequence":1}`, ErrInvalid},
		{"bad timestamp", `{"role":"primary","timestamp":"yesterday","sequence":1}`, ErrMalformed},
		{"bad details key", `{"role":"primary","details":{"a b":"c"},` + ts + `,"sequence":1}`, ErrInvalid},
		{"long details value", `{"role":"primary","details":{"a":"` + strings.Repeat("x", 257) + `"},` + ts + `,"sequence":1}`, ErrInvalid},
		{"long reason", `{"role":"primary","reason":"` + strings.Repeat("x", 257) + `",` + ts + `,"sequence":1}`, ErrInvalid},
		{"oversized", `{"role":"primary","reason":"` + strings.Repeat(" ", MaxSize) + `"}`, ErrOversized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse([]byte(tt.in))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if r == nil {
					t.Fatal("Parse returned no report and no error")
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse error = %v, want %v", err, tt.want)
			}
			if r != nil {
				t.Fatalf("Parse returned a report with an error: %+v", r)
			}
		})
	}
}

func TestCheckTime(t *testing.T) {
	now := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	r := &Report{Role: "primary", Timestamp: now.Add(-29 * time.Second), Sequence: 1}
	if err := r.CheckTime(now, 30*time.Second, 5*time.Second); err != nil {
		t.Fatalf("fresh report: %v", err)
	}
	r.Timestamp = now.Add(-31 * time.Second)
	if err := r.CheckTime(now, 30*time.Second, 5*time.Second); !errors.Is(err, ErrStale) {
		t.Fatalf("old report: %v, want ErrStale", err)
	}
	r.Timestamp = now.Add(6 * time.Second)
	if err := r.CheckTime(now, 30*time.Second, 5*time.Second); !errors.Is(err, ErrFuture) {
		t.Fatalf("future report: %v, want ErrFuture", err)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	in := Report{Role: "replica", Healthy: true, Details: map[string]string{"offset": "12"}, Timestamp: time.Date(2026, 11, 28, 8, 0, 0, 5, time.UTC), Sequence: 3}
	data, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&in, out) || !out.Timestamp.Equal(in.Timestamp) {
		t.Fatalf("round trip: got %+v, want %+v", out, in)
	}
	if _, err := (&Report{Role: "BAD", Timestamp: in.Timestamp, Sequence: 1}).Marshal(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Marshal of an invalid report: %v, want ErrInvalid", err)
	}
}

// FuzzParse: Parse never panics, and whatever it accepts is valid, within
// limits and survives a Marshal/Parse round trip.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"role":"primary","healthy":true,"details":{"lsn":"0/1"},"timestamp":"2026-11-28T08:00:00Z","sequence":1}`))
	f.Add([]byte(`{"role":"x","timestamp":"2026-11-28T08:00:00.123+02:00","sequence":18446744073709551615}`))
	f.Add([]byte(`{"role":"a","details":null,"timestamp":"0001-01-01T00:00:00Z","sequence":1} x`))
	f.Add([]byte(`[{"role":1}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			if r != nil {
				t.Fatal("report returned with an error")
			}
			if !errors.Is(err, ErrOversized) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error of no known kind: %v", err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("accepted an invalid report: %v", err)
		}
		out, err := r.Marshal()
		if err != nil {
			// A year outside 0000-9999 parses but cannot be encoded again.
			if r.Timestamp.Year() < 0 || r.Timestamp.Year() > 9999 {
				return
			}
			t.Fatalf("cannot encode an accepted report: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("cannot parse an encoded report %s: %v", out, err)
		}
		if again.Role != r.Role || again.Sequence != r.Sequence || !again.Timestamp.Equal(r.Timestamp) || again.Healthy != r.Healthy {
			t.Fatalf("round trip changed the report: %+v -> %+v", r, again)
		}
	})
}

// A valid report whose reason and details need escaping in JSON (control
// characters become \u00XX, six bytes for one) still encodes within
// MaxSize: Marshal drops details, then shortens the reason, instead of
// failing on every heartbeat for ever.
func TestMarshalFitsEscapedReports(t *testing.T) {
	details := map[string]string{}
	for i := range MaxDetails {
		details[fmt.Sprintf("k%02d", i)] = strings.Repeat("\x01", 15) // 90 bytes escaped
	}
	for name, r := range map[string]*Report{
		"escaped reason":             {Role: "primary", Reason: strings.Repeat("\x01", MaxReason)},
		"escaped reason and details": {Role: "primary", Reason: strings.Repeat("<", MaxReason), Details: details},
		"html reason and details":    {Role: "primary", Reason: strings.Repeat("<>&", MaxReason/3), Details: details},
	} {
		t.Run(name, func(t *testing.T) {
			r.Timestamp = time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
			r.Sequence = 7
			if err := r.Validate(); err != nil {
				t.Fatalf("the test report is invalid: %v", err)
			}
			data, err := r.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if len(data) > MaxSize {
				t.Fatalf("Marshal returned %d bytes, over %d", len(data), MaxSize)
			}
			back, err := Parse(data)
			if err != nil {
				t.Fatalf("Parse of the marshalled report: %v", err)
			}
			if back.Role != r.Role || back.Sequence != r.Sequence || back.Healthy != r.Healthy || back.Reason == "" {
				t.Fatalf("round trip lost the report: %+v", back)
			}
		})
	}
}

// JSON object keys match struct fields case-insensitively in encoding/json,
// and a repeated key silently overrides the first: a report may carry each
// field exactly once, spelled exactly.
func TestParseRefusesDuplicateAndMiscasedKeys(t *testing.T) {
	ts := `"timestamp":"2026-11-28T08:00:00Z","sequence":3`
	for name, raw := range map[string]string{
		"duplicate role":        `{"role":"primary","role":"replica","healthy":true,` + ts + `}`,
		"role and Role":         `{"role":"replica","Role":"primary","healthy":true,` + ts + `}`,
		"ROLE only":             `{"ROLE":"primary","healthy":true,` + ts + `}`,
		"Healthy":               `{"role":"primary","Healthy":true,` + ts + `}`,
		"sequence twice":        `{"role":"primary","healthy":true,` + ts + `,"Sequence":99}`,
		"duplicate details key": `{"role":"primary","healthy":true,"details":{"a":"1","a":"2"},` + ts + `}`,
	} {
		t.Run(name, func(t *testing.T) {
			if r, err := Parse([]byte(raw)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse = %+v, %v; want ErrMalformed", r, err)
			}
		})
	}
	if _, err := Parse([]byte(`{"role":"primary","healthy":true,"details":{"a":"1","A":"2"},` + ts + `}`)); err != nil {
		t.Fatalf("details keys differing in case are distinct keys: %v", err)
	}
}
