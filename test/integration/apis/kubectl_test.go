package apis_test

import (
	"strings"
	"testing"
)

// kubectl explain shows the field descriptions, and kubectl get finds the
// kinds by full name (Argo CD also has an Application), short name and category.
func TestKubectl(t *testing.T) {
	if err := apply(ctx(t), readExample(t, "redis-standalone.yaml")); err != nil {
		t.Fatal(err)
	}
	out, err := env.Kubectl(ctx(t), "explain", "application.spec.components")
	if err != nil {
		t.Fatalf("kubectl explain: %v\n%s", err, out)
	}
	for _, want := range []string{"Components sets each of the topology's components", "replicas", "Replicas is the number of pods", "parameters"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl explain output lacks %q:\n%s", want, out)
		}
	}
	for _, args := range [][]string{
		{"get", "applications.plinth.io", "-n", "default"},
		{"get", "papp", "-n", "default"},
		{"get", "plinth", "-n", "default"},
	} {
		out, err := env.Kubectl(ctx(t), args...)
		if err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
		for _, want := range []string{"cache", "PLUGIN", "PHASE", "READY"} {
			if !strings.Contains(out, want) {
				t.Errorf("kubectl %v lacks %q:\n%s", args, want, out)
			}
		}
	}
}
