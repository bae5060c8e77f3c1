package agentrun

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct {
		name    string
		secrets []string
		in      string
		want    string
		// gone must not be in the result (defaults to the secrets).
		gone []string
	}{
		{name: "secret value anywhere", secrets: []string{"s3cr3t-pw"}, in: "connected with s3cr3t-pw to x; again s3cr3t-pw.", want: "connected with *** to x; again ***."},
		{name: "longest secret first", secrets: []string{"abcd", "abcdefgh"}, in: "abcdefgh abcd", want: "*** ***"},
		{name: "short secret as a whole word only", secrets: []string{"pw1"}, in: "pw1 is not in pw12 nor xpw1", want: "*** is not in pw12 nor xpw1", gone: []string{"pw1 "}},
		{name: "empty secret ignored", secrets: []string{""}, in: "nothing to hide", want: "nothing to hide"},
		{name: "URL userinfo", in: "dial redis://default:hunter22@r-0.r.ns.svc:6379/0 failed", want: "dial redis://default:***@r-0.r.ns.svc:6379/0 failed", gone: []string{"hunter22"}},
		{name: "postgres URL", in: "postgresql://app:p%40ss@db:5432/app?sslmode=require", want: "postgresql://app:***@db:5432/app?sslmode=require", gone: []string{"p%40ss"}},
		{name: "conninfo", in: "host=db port=5432 user=app password=hunter22 dbname=app", want: "host=db port=5432 user=app password=*** dbname=app", gone: []string{"hunter22"}},
		{name: "JSON", in: `{"user":"app","password":"hu\"nter22","api_key": "k-123"}`, want: `{"user":"app","password":***,"api_key": ***}`, gone: []string{"nter22", "k-123"}},
		{name: "YAML and env", in: "masterauth: hunter22\nREDIS_PASSWORD=hunter23\nAUTH_TOKEN='tok en'", want: "masterauth: ***\nREDIS_PASSWORD=***\nAUTH_TOKEN=***", gone: []string{"hunter22", "hunter23", "tok en"}},
		{name: "flags", in: "redis-cli -a hunter22 --user x --password hunter23 --no-auth-warning PING", want: "redis-cli -a *** --user x --password *** --no-auth-warning PING", gone: []string{"hunter22", "hunter23"}},
		{name: "redis commands", in: "AUTH default hunter22\nCONFIG SET requirepass hunter23\nmasterauth hunter24", want: "AUTH ***\nCONFIG SET requirepass ***\nmasterauth ***", gone: []string{"hunter22", "hunter23", "hunter24"}},
		{name: "AUTH in parentheses", in: "quorum lost (auth hunter22)", want: "quorum lost (auth ***)", gone: []string{"hunter22"}},
		{name: "SQL", in: "ALTER ROLE app WITH LOGIN PASSWORD 'hun''ter22';", want: "ALTER ROLE app WITH LOGIN PASSWORD ***;", gone: []string{"ter22"}},
		{name: "bearer", in: "Authorization: Bearer eyJhbGciOi.x.y", gone: []string{"eyJhbGciOi"}},
		{name: "private key", in: "a\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIA\n-----END EC PRIVATE KEY-----\nb", want: "a\n-----*** PRIVATE KEY-----\nb", gone: []string{"MHcCAQEEIA"}},
		{name: "private key cut short", in: "-----BEGIN PRIVATE KEY-----\nMHcCAQEEIA", want: "-----*** PRIVATE KEY-----", gone: []string{"MHcCAQEEIA"}},
		{name: "ordinary output kept", in: "OK\nrole:master\nconnected_slaves:2\nNOAUTH Authentication required.", want: "OK\nrole:master\nconnected_slaves:2\nNOAUTH Authentication required."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := NewRedactor(tc.secrets...).Redact(tc.in)
			if tc.want != "" && got != tc.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
			gone := tc.gone
			if gone == nil {
				gone = tc.secrets
			}
			for _, g := range gone {
				if g != "" && strings.Contains(got, g) {
					t.Errorf("Redact(%q) = %q still holds %q", tc.in, got, g)
				}
			}
		})
	}
}

func TestOutput(t *testing.T) {
	for _, tc := range []struct {
		name      string
		secrets   []string
		in        string
		truncated bool
		max       int
		want      string
		wantCut   bool
	}{
		{name: "short output untouched", in: "OK\n", max: 10, want: "OK\n"},
		{name: "keeps the end", in: "0123456789abcdef", max: 6, want: "abcdef", wantCut: true},
		{name: "cap at a character boundary", in: "xxé€", max: 4, want: "€", wantCut: true},
		{name: "control characters dropped, newline and tab kept", in: "a\x1b[31mb\tc\r\nd\x00", max: 100, want: "a[31mb\tc\nd"},
		{name: "redacted before the cap", secrets: []string{"hunter22"}, in: strings.Repeat("x", 20) + "hunter22", max: 8, want: "xxxxx***", wantCut: true},
		{name: "secret cut by the agent", secrets: []string{"hunter22"}, in: "password is hunt", truncated: true, max: 100, want: "password is ***"},
		{name: "no cut prefix when complete", secrets: []string{"hunter22"}, in: "we hunt", max: 100, want: "we hunt"},
		{name: "invalid UTF-8", in: "a\xffb", max: 100, want: "a\uFFFDb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, cut := NewRedactor(tc.secrets...).Output(tc.in, tc.truncated, tc.max)
			if got != tc.want || cut != tc.wantCut {
				t.Errorf("Output(%q, %d) = %q, %v; want %q, %v", tc.in, tc.max, got, cut, tc.want, tc.wantCut)
			}
			if len(got) > tc.max {
				t.Errorf("Output is %d bytes, more than %d", len(got), tc.max)
			}
		})
	}
}

func TestOneLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\t c\r\n", 100, "a b c"},
		{"abcdefghij", 8, "abcde..."},
		{"ééééé", 8, "éé..."},
		{"", 8, ""},
	} {
		if got := OneLine(tc.in, tc.n); got != tc.want {
			t.Errorf("OneLine(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
	if got := LastLine("first\nERR wrong password\n\n", 100); got != "ERR wrong password" {
		t.Errorf("LastLine = %q", got)
	}
}
