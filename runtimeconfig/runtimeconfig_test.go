package runtimeconfig

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseProcessDefaults(t *testing.T) {
	p, err := ParseProcess([]byte("command: redis-server\nargs: [/etc/redis.conf]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.StopSignal != "TERM" || p.GracePeriod.Duration != 30*time.Second || p.Reload.Signal != "HUP" ||
		p.Restart.Policy != RestartAlways || p.HoldPrimary.Env != DefaultHoldPrimaryEnv {
		t.Errorf("defaults not applied: %+v", p)
	}
}

func TestParseProcessErrors(t *testing.T) {
	for name, doc := range map[string]string{
		"no command":       "args: [x]",
		"unknown field":    "command: x\nrestartt: {}",
		"bad signal":       "command: x\nstopSignal: NOPE",
		"signal and cmd":   "command: x\nreload: {signal: HUP, command: [a]}",
		"bad policy":       "command: x\nrestart: {policy: Sometimes}",
		"cap below start":  "command: x\nrestart: {initialBackoff: 10s, maxBackoff: 1s}",
		"bad duration":     "command: x\ngracePeriod: soon",
		"negative":         "command: x\ngracePeriod: -1s",
		"number duration":  "command: x\ngracePeriod: 5",
		"bad env":          "command: x\nenv: {\"A=B\": c}",
		"not yaml":         "{{{",
		"empty reload arg": "command: x\nreload: {command: [\"\"]}",
	} {
		if _, err := ParseProcess([]byte(doc)); err == nil {
			t.Errorf("%s: no error for %q", name, doc)
		}
	}
}

func TestLoadFileTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, []byte("command: x\n#"+strings.Repeat("x", MaxFileSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadProcess(path); err == nil || !strings.Contains(err.Error(), "allowed") {
		t.Errorf("LoadProcess of a huge file: %v", err)
	}
}

func TestParseSignal(t *testing.T) {
	for _, n := range []string{"TERM", "SIGTERM", "term", " sigterm "} {
		if s, err := ParseSignal(n); err != nil || s != syscall.SIGTERM {
			t.Errorf("ParseSignal(%q) = %v, %v", n, s, err)
		}
	}
	if _, err := ParseSignal("SIGSEGV"); err == nil {
		t.Error("SIGSEGV must not be accepted")
	}
	if SignalName(syscall.SIGUSR1) != "USR1" {
		t.Error(SignalName(syscall.SIGUSR1))
	}
}

func TestParseProbe(t *testing.T) {
	p, err := ParseProbe([]byte(`
command: [redis-cli, info, replication]
parser: keyvalue
roleMap: {master: primary}
healthy: [{field: master_link_status, values: [up], optional: true}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if p.RoleField != "role" || p.Interval.Duration != 2*time.Second || p.Heartbeat.Duration != 30*time.Second {
		t.Errorf("defaults: %+v", p)
	}
	for name, doc := range map[string]string{
		"no command":         "parser: json",
		"bad parser":         "command: [x]\nparser: xml",
		"regex without role": "command: [x]\nparser: regex\nregex: '(?P<other>x)'",
		"bad regex":          "command: [x]\nparser: regex\nregex: '('",
		"regex on json":      "command: [x]\nparser: json\nregex: 'x'",
		"timeout > interval": "command: [x]\nparser: json\ninterval: 1s\ntimeout: 2s",
		"heartbeat < int":    "command: [x]\nparser: json\ninterval: 10s\nheartbeat: 1s",
		"rule without value": "command: [x]\nparser: json\nhealthy: [{field: a}]",
	} {
		if _, err := ParseProbe([]byte(doc)); err == nil {
			t.Errorf("%s: no error for %q", name, doc)
		}
	}
}

func TestParseActions(t *testing.T) {
	a, err := ParseActions([]byte(`
actions:
  - name: config-set
    argv: [redis-cli, CONFIG, SET, "{{.name}}", "{{.value}}"]
    parameters:
      - {name: name, type: enum, allowedValues: [maxmemory]}
      - {name: value, type: string, pattern: '^[0-9a-z]+$'}
`))
	if err != nil {
		t.Fatal(err)
	}
	ac := a.Actions[0]
	if ac.Timeout.Duration != time.Minute || ac.Output != OutputStdout || ac.MaxOutputBytes != DefaultMaxOutputBytes || ac.Parameters[1].MaxLength != 1024 {
		t.Errorf("defaults: %+v", ac)
	}
	for name, doc := range map[string]string{
		"bad name":       "actions: [{name: Bad_Name, argv: [x]}]",
		"duplicate":      "actions: [{name: a, argv: [x]}, {name: a, argv: [y]}]",
		"no argv":        "actions: [{name: a}]",
		"bad template":   "actions: [{name: a, argv: [\"{{.x\"]}]",
		"bad output":     "actions: [{name: a, argv: [x], output: all}]",
		"enum no values": "actions: [{name: a, argv: [x], parameters: [{name: p, type: enum}]}]",
		"bad type":       "actions: [{name: a, argv: [x], parameters: [{name: p, type: float}]}]",
		"bad pattern":    "actions: [{name: a, argv: [x], parameters: [{name: p, type: string, pattern: '('}]}]",
		"min > max":      "actions: [{name: a, argv: [x], parameters: [{name: p, type: int, min: 5, max: 1}]}]",
		"param twice":    "actions: [{name: a, argv: [x], parameters: [{name: p, type: int}, {name: p, type: int}]}]",
		"bad param name": "actions: [{name: a, argv: [x], parameters: [{name: 'a-b', type: int}]}]",
	} {
		if _, err := ParseActions([]byte(doc)); err == nil {
			t.Errorf("%s: no error for %q", name, doc)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("command: x\nrestart: {policy: Always}"))
	f.Add([]byte("actions: [{name: a, argv: [\"{{.p}}\"], parameters: [{name: p, type: int, min: 1}]}]"))
	f.Add([]byte("command: [x]\nparser: regex\nregex: '(?P<role>x)'"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseProcess(data)
		_, _ = ParseProbe(data)
		_, _ = ParseActions(data)
	})
}
