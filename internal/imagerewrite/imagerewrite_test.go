package imagerewrite

import (
	"strings"
	"testing"
)

func TestImage(t *testing.T) {
	rules, err := Parse([]string{
		"docker.io/library/=localhost/plinth-mirror/",
		"docker.io/library/redis=localhost/redis-special",
		"ghcr.io/plinth-io/=localhost/plinth/",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{"docker.io/library/postgres:16", "localhost/plinth-mirror/postgres:16"},
		{"postgres:16", "localhost/plinth-mirror/postgres:16"},
		{"redis:7.2", "localhost/redis-special:7.2"}, // longest prefix wins
		{"ghcr.io/plinth-io/plinth:v1", "localhost/plinth/plinth:v1"},
		{"quay.io/other/img:1", "quay.io/other/img:1"},
		{"bitnami/redis:7", "bitnami/redis:7"},
		{"", ""},
	} {
		if got := rules.Image(tc.in); got != tc.want {
			t.Errorf("Image(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"docker.io/library/", "want PREFIX=MIRROR"},
		{"=localhost/", "want PREFIX=MIRROR"},
		{"docker.io/=", "want PREFIX=MIRROR"},
		{"docker.io/ x=localhost/", "cannot contain spaces"},
	} {
		_, err := Parse([]string{tc.spec})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error = %v, want it to mention %q", tc.spec, err, tc.want)
		}
	}
	if _, err := Parse([]string{"a/=b/", "a/=c/"}); err == nil || !strings.Contains(err.Error(), "mapped twice") {
		t.Errorf("duplicate prefix: error = %v", err)
	}
}
