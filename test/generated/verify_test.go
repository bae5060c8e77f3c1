// Package generated_test proves "make verify" catches stale generated files.
package generated_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plinth-io/plinth/internal/testenv"
)

// copyTree copies the parts of the repository the verify script reads.
func copyTree(t *testing.T, root string) string {
	t.Helper()
	dst := t.TempDir()
	for _, d := range []string{"apis", "proto", "hack", "deploy/kustomize/base/crds", "deploy/kustomize/base/rbac", "controllers", "cmd"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, d)), 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("cp", "-r", filepath.Join(root, d), filepath.Join(dst, d)).CombinedOutput(); err != nil {
			t.Fatalf("cp %s: %v\n%s", d, err, out)
		}
	}
	return dst
}

func verify(t *testing.T, root, tree string) (string, error) {
	t.Helper()
	out, err := exec.Command(filepath.Join(root, "hack", "verify-generated.sh"), tree).CombinedOutput()
	return string(out), err
}

func TestVerifyCatchesStaleFiles(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "controller-gen")); err != nil {
		t.Fatal("bin/controller-gen is missing: run make tools (make test does)")
	}

	t.Run("current tree passes", func(t *testing.T) {
		if out, err := verify(t, root, copyTree(t, root)); err != nil {
			t.Fatalf("verify failed on an unmodified copy: %v\n%s", err, out)
		}
	})

	t.Run("a new field without regeneration fails", func(t *testing.T) {
		tree := copyTree(t, root)
		f := filepath.Join(tree, "apis", "v1alpha1", "application_types.go")
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		edited := strings.Replace(string(src), "	Stopped bool `json:\"stopped,omitempty\"`\n}",
			"	Stopped bool `json:\"stopped,omitempty\"`\n\n	// Paused is a field someone added without running make generate.\n	// +optional\n	Paused *bool `json:\"paused,omitempty\"`\n}", 1)
		if edited == string(src) {
			t.Fatal("could not find the field to edit after")
		}
		if err := os.WriteFile(f, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := verify(t, root, tree)
		if err == nil {
			t.Fatalf("verify passed on a stale tree:\n%s", out)
		}
		for _, want := range []string{"deep-copy code in apis/ is stale", "CRD manifests in deploy/kustomize/base/crds are stale", "make generate"} {
			if !strings.Contains(out, want) {
				t.Errorf("verify output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("a new RBAC marker without regeneration fails", func(t *testing.T) {
		tree := copyTree(t, root)
		f := filepath.Join(tree, "controllers", "workloadset", "rbac.go")
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		edited := string(src) + "// +kubebuilder:rbac:groups=\"\",resources=nodes,verbs=get\n"
		if err := os.WriteFile(f, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := verify(t, root, tree)
		if err == nil || !strings.Contains(out, "RBAC in deploy/kustomize/base/rbac is stale") || !strings.Contains(out, "nodes") {
			t.Fatalf("verify error = %v, output:\n%s", err, out)
		}
	})

	t.Run("an edited proto without regeneration fails", func(t *testing.T) {
		tree := copyTree(t, root)
		f := filepath.Join(tree, "proto", "procmgr", "v1", "procmgr.proto")
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		edited := strings.Replace(string(src), "message StatusRequest {}", "message StatusRequest {\n  bool verbose = 1;\n}", 1)
		if err := os.WriteFile(f, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := verify(t, root, tree)
		if err == nil || !strings.Contains(out, "generated gRPC code in proto/gen is stale") {
			t.Fatalf("verify error = %v, output:\n%s", err, out)
		}
	})
}
