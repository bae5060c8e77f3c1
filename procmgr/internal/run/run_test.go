package run

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// The socket never exists at its path with a wider mode than asked for:
// it is created in a private directory, given its mode there and renamed
// into place. (Bound at the path and chmod'ed afterwards, it is reachable
// with the umask's mode in between; with umask 0 that is 0777.) A poller
// watches the path while the socket is made again and again.
func TestSocketNeverHasAWiderMode(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "run", "procmgr.sock")
	const want = os.FileMode(0o660)
	var stop atomic.Bool
	var wider atomic.Value
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() == os.ModeSocket && fi.Mode().Perm() != want {
				wider.Store(fi.Mode().String())
			}
		}
	})
	for range 300 {
		lis, err := listenUnix(path, want)
		if err != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatal(err)
		}
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("socket after listenUnix: %v, %v", fi, err)
		}
		_ = lis.Close()
		if _, err := os.Lstat(path); err == nil {
			t.Errorf("the socket is left at %s after Close", path)
		}
	}
	stop.Store(true)
	wg.Wait()
	if m := wider.Load(); m != nil {
		t.Fatalf("the socket was at its path with mode %s, want %s from the start", m, want)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 0 {
		t.Errorf("left behind next to the socket: %v", entries)
	}
}
