package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

const mod = "github.com/plinth-io/plinth/"

// The repository's own rules fail a fake module that breaks each of them once,
// naming the importing package, the forbidden one and the rule.
func TestRulesFailOnBadImports(t *testing.T) {
	t.Setenv("GOWORK", "off")
	var stdout, stderr bytes.Buffer
	code := run("../import-restrictions.yaml", "testdata/bad", nil, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit code %d, want 1; stderr:\n%s", code, stderr.String())
	}
	want := []struct{ importer, imported, rule string }{
		{"apis/v1alpha1", "controllers/component", "apis-are-leaves"},
		{"controllers/component", "controllers/workloadset", "controllers-are-independent"},
		{"controllers/workloadset", "pluginregistry", "workload-layer-has-no-registry"},
		{"internal/helper", "controllers/application", "in-pod-binaries-have-no-controller"},
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if !strings.HasPrefix(l, "importcheck:") {
			lines = append(lines, l)
		}
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d violations, want %d:\n%s", len(lines), len(want), stderr.String())
	}
	for i, w := range want {
		prefix := mod + w.importer + " imports " + mod + w.imported + ", forbidden by rule \"" + w.rule + "\""
		if !strings.HasPrefix(lines[i], prefix) {
			t.Errorf("violation %d:\n got %s\nwant it to start with %s", i, lines[i], prefix)
		}
	}
	// The in-pod violation is indirect: the chain names the binary.
	if !strings.Contains(lines[3], "Import chain: "+mod+"agents/status -> "+mod+"internal/helper -> "+mod+"controllers/application") {
		t.Errorf("the indirect violation does not show its import chain: %s", lines[3])
	}
	if strings.Contains(stderr.String(), "internal/app imports") {
		t.Errorf("a controller's own package was reported:\n%s", stderr.String())
	}
}

// The repository keeps its rules (every module, through go.work).
func TestRepositoryKeepsRules(t *testing.T) {
	if testing.Short() {
		t.Skip("lists every package of the repository")
	}
	if _, err := os.Stat("../../go.work"); err != nil {
		t.Skip("no go.work: not run from the repository")
	}
	var stdout, stderr bytes.Buffer
	code := run("../import-restrictions.yaml", "../..", []string{"./...", mod + "apis/...", mod + "proto/..."}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit code %d:\n%s", code, stderr.String())
	}
}

func TestPatterns(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		vars          map[string]string
		want          bool
	}{
		{"a/b/...", "a/b", nil, true},
		{"a/b/...", "a/b/c/d", nil, true},
		{"a/b/...", "a/bc", nil, false},
		{"a/b", "a/b/c", nil, false},
		{"a/{x}/...", "a/y/z", nil, true},
		{"a/{x}/...", "a/y/z", map[string]string{"x": "y"}, true},
		{"a/{x}/...", "a/w/z", map[string]string{"x": "y"}, false},
		{"a.b/c", "aXb/c", nil, false},
	} {
		if got, _ := match(tc.pattern, tc.path, tc.vars); got != tc.want {
			t.Errorf("match(%q, %q, %v) = %v, want %v", tc.pattern, tc.path, tc.vars, got, tc.want)
		}
	}
	if _, err := compile("a/.../b", nil); err == nil {
		t.Error("a pattern with ... inside compiled")
	}
}
