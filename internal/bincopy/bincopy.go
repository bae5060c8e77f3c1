// Package bincopy copies Plinth's in-pod binaries from the Plinth image into
// a shared emptyDir (for example /plinth/bin), so that a stock middleware
// image (redis:7.2, postgres:16) can run them without being rebuilt. An init
// container of the middleware Pod runs "plinth-procmgr copy".
package bincopy

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Binaries are the files copied by default.
var Binaries = []string{"plinth-procmgr", "plinth-status-agent", "plinth-ops-agent"}

// Copy copies each named file from fromDir into toDir, atomically (a
// temporary file renamed into place) and executable. A missing source file
// is an error: the image is broken.
func Copy(fromDir, toDir string, names []string) ([]string, error) {
	if err := os.MkdirAll(toDir, 0o755); err != nil {
		return nil, err
	}
	var copied []string
	for _, n := range names {
		if n == "" || filepath.Base(n) != n {
			return copied, fmt.Errorf("%q is not a plain file name", n)
		}
		if err := copyFile(filepath.Join(fromDir, n), filepath.Join(toDir, n)); err != nil {
			return copied, err
		}
		copied = append(copied, filepath.Join(toDir, n))
	}
	return copied, nil
}

func copyFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, in); err != nil {
		tmp.Close()
		return fmt.Errorf("copying %s: %w", src, err)
	}
	if err = tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
