package statusreport

import (
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	r := Report{Role: "primary", Healthy: true, Details: map[string]string{"lsn": "0/3000148"}, Timestamp: time.Unix(1700000000, 0).UTC(), Sequence: 7}
	s, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(s)
	if err != nil || got.Role != "primary" || !got.Healthy || got.Details["lsn"] != "0/3000148" || got.Sequence != 7 || !got.Timestamp.Equal(r.Timestamp) {
		t.Fatalf("Parse(%s) = %+v, %v", s, got, err)
	}
}

func TestParseRejects(t *testing.T) {
	many := map[string]string{}
	for i := 0; i < MaxDetails+1; i++ {
		many[strings.Repeat("k", i+1)] = "v"
	}
	for name, r := range map[string]Report{
		"empty role":   {},
		"label-unsafe": {Role: "pri mary"},
		"long role":    {Role: strings.Repeat("r", 64)},
		"many details": {Role: "x", Details: many},
		"long value":   {Role: "x", Details: map[string]string{"k": strings.Repeat("v", MaxValueLength+1)}},
		"negative seq": {Role: "x", Sequence: -1},
		"long reason":  {Role: "x", Reason: strings.Repeat("r", MaxReasonBytes+1)},
	} {
		if _, err := r.Marshal(); err == nil {
			t.Errorf("%s: Marshal accepted %+v", name, r)
		}
	}
	for _, s := range []string{"", "{", "[]", `{"role":"a b"}`, `{"role":"x","sequence":"1"}`, strings.Repeat(" ", MaxSize+1)} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%.40q) accepted", s)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`{"role":"primary","healthy":true,"sequence":1,"timestamp":"2026-01-01T00:00:00Z"}`)
	f.Add(`{"role":"x","details":{"a":"b"}}`)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			return
		}
		if _, err := r.Marshal(); err != nil && len(s) <= MaxSize {
			// A parsed report always re-encodes (it passed Validate).
			if !strings.Contains(err.Error(), "bytes") {
				t.Fatalf("re-encoding a parsed report: %v", err)
			}
		}
	})
}
