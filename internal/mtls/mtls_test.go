package mtls_test

import (
	"os"
	"testing"

	"github.com/plinth-io/plinth/internal/mtls"
	"github.com/plinth-io/plinth/internal/mtls/mtlstest"
)

func TestStoreReloadsAndKeepsTheLastGoodMaterial(t *testing.T) {
	dir := t.TempDir()
	ca := mtlstest.NewCA(t, "ca-1")
	files := ca.Write(t, dir, "server", "s", true, ca)
	s, err := mtls.NewStore(files)
	if err != nil {
		t.Fatal(err)
	}
	first, _, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if again, _, _ := s.Load(); again != first {
		t.Error("unchanged files were loaded again")
	}

	ca2 := mtlstest.NewCA(t, "ca-2")
	ca2.Write(t, dir, "server", "s", true, ca2)
	second, pool, err := s.Load()
	if err != nil || second == first || pool == nil {
		t.Fatalf("rotation not picked up: %v", err)
	}

	// A half-written rotation: the previous material stays in use.
	if err := os.WriteFile(files.Cert, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	kept, _, err := s.Load()
	if err == nil || kept != second {
		t.Errorf("broken files: got %v, %v; want the previous certificate and an error", kept, err)
	}

	if _, err := mtls.NewStore(mtls.Files{Cert: files.Cert}); err == nil {
		t.Error("NewStore without key and CA succeeded")
	}
	if _, err := mtls.NewStore(mtls.Files{Cert: "/nonexistent", Key: "/nonexistent", CA: "/nonexistent"}); err == nil {
		t.Error("NewStore with missing files succeeded")
	}
}
