package plugincli_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/plinth-io/plinth/pluginregistry"
	"github.com/plinth-io/plinth/pluginregistry/plugincli"
)

func run(args ...string) (string, error) {
	cmd := plugincli.Command()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestConfigMapsCommand(t *testing.T) {
	out, err := run("configmaps", "-n", "platform", "../../plugins/redis/v1.0.0")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	srcs, err := pluginregistry.ReadConfigMaps(strings.NewReader(out), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 1 || len(srcs[0].ConfigMaps) != 5 {
		t.Fatalf("expected one version of five ConfigMaps, got %d sources", len(srcs))
	}
	for _, cm := range srcs[0].ConfigMaps {
		if cm.Namespace != "platform" || cm.Immutable == nil || !*cm.Immutable {
			t.Errorf("%s: namespace %q immutable %v", cm.Name, cm.Namespace, cm.Immutable)
		}
	}
	if _, err := pluginregistry.Build("redis", "v1.0.0", srcs[0].ConfigMaps); err != nil {
		t.Fatalf("the printed ConfigMaps do not build: %v", err)
	}
}

func TestConfigMapsRefusesInvalid(t *testing.T) {
	out, err := run("configmaps", "../testdata/lint/replica-range")
	if err == nil || !strings.Contains(err.Error(), "is invalid; run plinth-plugin lint") {
		t.Fatalf("expected a refusal, got %v\n%s", err, out)
	}
}

func TestKustomizationCheck(t *testing.T) {
	if out, err := run("kustomization", "--check", "../../plugins"); err != nil {
		t.Fatalf("shipped kustomizations are stale: %v\n%s", err, out)
	}
	if out, err := run("lint", "/nonexistent"); err == nil {
		t.Fatalf("lint of a missing folder passed:\n%s", out)
	}
}
