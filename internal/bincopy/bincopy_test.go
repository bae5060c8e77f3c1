package bincopy

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestCopy(t *testing.T) {
	from, to := t.TempDir(), filepath.Join(t.TempDir(), "plinth", "bin")
	for _, n := range []string{"a", "b"} {
		if err := os.WriteFile(filepath.Join(from, n), []byte("binary "+n), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Copy(from, to, []string{"a", "b"})
	if err != nil || len(got) != 2 {
		t.Fatalf("Copy = %v, %v", got, err)
	}
	for _, n := range []string{"a", "b"} {
		data, err := os.ReadFile(filepath.Join(to, n))
		if err != nil || !bytes.Equal(data, []byte("binary "+n)) {
			t.Fatalf("%s: %q, %v", n, data, err)
		}
		fi, _ := os.Stat(filepath.Join(to, n))
		if fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: mode %v, want 0755", n, fi.Mode().Perm())
		}
	}
	// Copying again replaces the files (an init container re-runs).
	if _, err := Copy(from, to, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Copy(from, to, []string{"missing"}); err == nil {
		t.Error("a missing source file must be an error")
	}
	if _, err := Copy(from, to, []string{"../a"}); err == nil {
		t.Error("a path must be refused")
	}
}
