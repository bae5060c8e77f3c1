package runtimeconfig

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"sigs.k8s.io/yaml"
)

// MaxFileSize bounds every runtime configuration file.
const MaxFileSize = 1 << 20

// Duration is a time.Duration written as a Go duration string ("5s", "1m30s").
type Duration struct {
	time.Duration
}

// D wraps a time.Duration.
func D(d time.Duration) Duration { return Duration{d} }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"5s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", s)
	}
	d.Duration = v
	return nil
}

// readFile reads a configuration file, bounded by MaxFileSize.
func readFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > MaxFileSize {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d allowed", path, fi.Size(), MaxFileSize)
	}
	return os.ReadFile(path)
}

// file is a configuration file type.
type file[T any] interface {
	*T
	Default()
	Validate() error
}

// load reads, decodes, defaults and validates a file.
func load[T any, P file[T]](path string) (*T, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	v, err := parse[T, P](data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// parse decodes, defaults and validates a file's content.
func parse[T any, P file[T]](data []byte) (*T, error) {
	var v T
	if err := decode(data, &v); err != nil {
		return nil, err
	}
	P(&v).Default()
	if err := P(&v).Validate(); err != nil {
		return nil, err
	}
	return &v, nil
}

// decode reads YAML or JSON strictly: unknown fields are errors.
func decode(data []byte, v any) error {
	if len(data) > MaxFileSize {
		return fmt.Errorf("%d bytes, more than the %d allowed", len(data), MaxFileSize)
	}
	return yaml.UnmarshalStrict(data, v)
}

var signals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT,
	"KILL": syscall.SIGKILL, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2,
	"TERM": syscall.SIGTERM, "WINCH": syscall.SIGWINCH,
}

// ParseSignal parses a signal name: TERM, SIGTERM or term (HUP, INT, QUIT,
// KILL, USR1, USR2, TERM, WINCH).
func ParseSignal(name string) (syscall.Signal, error) {
	n := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(name)), "SIG")
	s, ok := signals[n]
	if !ok {
		return 0, fmt.Errorf("unknown signal %q: want one of HUP, INT, QUIT, KILL, USR1, USR2, TERM, WINCH", name)
	}
	return s, nil
}

// SignalName is the short name of a signal (TERM), or its number.
func SignalName(s syscall.Signal) string {
	for n, v := range signals {
		if v == s {
			return n
		}
	}
	return fmt.Sprintf("%d", int(s))
}
