package evaluate

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/plinth-io/plinth/apis/statusreport"
	"github.com/plinth-io/plinth/runtimeconfig"
)

// Output of redis-cli info replication on a replica (Redis 7.0).
const redisReplica = "# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:6379\r\nmaster_link_status:up\r\nmaster_last_io_seconds_ago:1\r\nslave_repl_offset:1234\r\nconnected_slaves:0\r\n"

func eval(t *testing.T, yaml string) *Evaluator {
	t.Helper()
	p, err := runtimeconfig.ParseProbe([]byte("command: [x]\n" + yaml))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestKeyValueRedisReplica(t *testing.T) {
	e := eval(t, `
parser: keyvalue
roleMap: {master: primary, slave: replica}
healthy: [{field: master_link_status, values: [up], optional: true}]
details: [slave_repl_offset, master_link_status, absent]
`)
	r := e.Report([]byte(redisReplica), nil)
	if r.Role != "replica" || !r.Healthy || r.Reason != "" {
		t.Errorf("report %+v", r)
	}
	if len(r.Details) != 2 || r.Details["slave_repl_offset"] != "1234" || r.Details["master_link_status"] != "up" {
		t.Errorf("details %v", r.Details)
	}
	// The link goes down: unhealthy, with the reason.
	r = e.Report([]byte(strings.Replace(redisReplica, "link_status:up", "link_status:down", 1)), nil)
	if r.Role != "replica" || r.Healthy || !strings.Contains(r.Reason, "master_link_status") {
		t.Errorf("link down: %+v", r)
	}
	// A primary has no master_link_status: the rule is optional.
	if r := e.Report([]byte("role:master\nconnected_slaves:1\n"), nil); r.Role != "primary" || !r.Healthy {
		t.Errorf("primary: %+v", r)
	}
}

func TestKeyValueSeparators(t *testing.T) {
	f := KeyValue([]byte("a=1\nb: 2\n# c=3\nnoseparator\n=novalue\nurl=http://x:1\na=dup\n"))
	want := map[string]string{"a": "1", "b": "2", "url": "http://x:1"}
	if len(f) != len(want) {
		t.Errorf("fields %v, want %v", f, want)
	}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("%s = %q, want %q", k, f[k], v)
		}
	}
}

func TestJSONPostgres(t *testing.T) {
	e := eval(t, "parser: json\n")
	r := e.Report([]byte(`{"role":"standby","in_recovery":true,"receive_lsn":"0/3000148","timeline":1,"extra":{"a":1}}`+"\n"), nil)
	if r.Role != "standby" || !r.Healthy || r.Details["in_recovery"] != "true" || r.Details["timeline"] != "1" || r.Details["extra"] != `{"a":1}` {
		t.Errorf("report %+v", r)
	}
	if r := e.Report([]byte(`["not","an","object"]`), nil); r.Healthy || r.Role != statusreport.RoleUnknown {
		t.Errorf("array: %+v", r)
	}
}

func TestRegex(t *testing.T) {
	e := eval(t, `parser: regex
regex: '(?s)^(?P<role>master|slave)\n(?P<offset>\d+)'
`)
	r := e.Report([]byte("slave\n4242\n127.0.0.1\n"), nil)
	if r.Role != "slave" || !r.Healthy || r.Details["offset"] != "4242" {
		t.Errorf("report %+v", r)
	}
	if r := e.Report([]byte("sentinel\n"), nil); r.Healthy || r.Role != statusreport.RoleUnknown {
		t.Errorf("no match: %+v", r)
	}
	if f := Regex(regexp.MustCompile(`(?P<a>x)?y`), []byte("y")); len(f) != 0 {
		t.Errorf("unmatched optional group: %v", f)
	}
}

func TestProbeFailureIsAReportNotACrash(t *testing.T) {
	e := eval(t, "parser: keyvalue\n")
	r := e.Report(nil, errors.New("probe redis-cli: exit status 1: Could not connect to Redis"))
	if r.Healthy || r.Role != statusreport.RoleUnknown || !strings.Contains(r.Reason, "Could not connect") {
		t.Errorf("report %+v", r)
	}
	if _, err := publishable(r); err != nil {
		t.Errorf("an unhealthy report must be publishable: %v", err)
	}
	for _, out := range []string{"", "role:\n", "role: has spaces\n", "role:" + strings.Repeat("r", 100)} {
		r := e.Report([]byte(out), nil)
		if r.Healthy || r.Role != statusreport.RoleUnknown {
			t.Errorf("output %q: %+v", out, r)
		}
	}
}

func TestDetailsAreBounded(t *testing.T) {
	e := eval(t, "parser: keyvalue\n")
	var b strings.Builder
	b.WriteString("role:master\n")
	for i := 0; i < 100; i++ {
		b.WriteString("k" + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + ":" + strings.Repeat("é", 200) + "\n")
	}
	b.WriteString(strings.Repeat("k", 100) + ":v\n")
	r := e.Report([]byte(b.String()), nil)
	if _, err := publishable(r); err != nil {
		t.Fatalf("bounded report does not marshal: %v", err)
	}
	for k, v := range r.Details {
		if len(v) > statusreport.MaxDetailValue || !utf8.ValidString(v) {
			t.Errorf("details[%s] is %d bytes or invalid UTF-8", k, len(v))
		}
	}
}

func FuzzReport(f *testing.F) {
	f.Add([]byte(redisReplica), "keyvalue")
	f.Add([]byte(`{"role":"primary","x":[1,2]}`), "json")
	f.Add([]byte("master\n1\n"), "regex")
	f.Fuzz(func(t *testing.T, out []byte, parser string) {
		doc := "parser: keyvalue\n"
		switch parser {
		case "json":
			doc = "parser: json\n"
		case "regex":
			doc = "parser: regex\nregex: '(?P<role>\\w+)\\s+(?P<off>\\d*)'\n"
		}
		r := eval(t, doc).Report(out, nil)
		if _, err := publishable(r); err != nil {
			t.Fatalf("report of %q does not marshal: %v", out, err)
		}
	})
}

// publishable marshals r as the publisher would, once it has stamped the
// timestamp and sequence that Evaluate leaves to it.
func publishable(r statusreport.Report) ([]byte, error) {
	r.Timestamp, r.Sequence = time.Now(), 1
	return r.Marshal()
}
