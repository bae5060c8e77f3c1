package actions

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plinth-io/plinth/runtimeconfig"
)

func action(t *testing.T, doc string) *runtimeconfig.Action {
	t.Helper()
	a, err := runtimeconfig.ParseActions([]byte("actions:\n" + doc))
	if err != nil {
		t.Fatal(err)
	}
	return &a.Actions[0]
}

func TestValidate(t *testing.T) {
	a := action(t, `
  - name: a
    argv: [x]
    parameters:
      - {name: count, type: int, min: 1, max: 10, default: "5"}
      - {name: b, type: bool}
      - {name: e, type: enum, allowedValues: [lru, lfu], required: true}
      - {name: s, type: string, pattern: '[a-z]+', maxLength: 8}
      - {name: d, type: duration}
`)
	got, err := Validate(a, map[string]string{"e": "lru", "b": "TRUE", "s": "abc", "d": "90s"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"count": "5", "b": "true", "e": "lru", "s": "abc", "d": "1m30s"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for name, params := range map[string]map[string]string{
		"missing required": {},
		"below min":        {"e": "lru", "count": "0"},
		"above max":        {"e": "lru", "count": "11"},
		"not an int":       {"e": "lru", "count": "1; rm -rf /"},
		"not a bool":       {"e": "lru", "b": "yes please"},
		"not allowed":      {"e": "random"},
		"pattern is whole": {"e": "lru", "s": "abc; rm -rf /"},
		"too long":         {"e": "lru", "s": "abcdefghi"},
		"bad duration":     {"e": "lru", "d": "soon"},
		"unknown":          {"e": "lru", "extra": "1"},
		"NUL byte":         {"e": "lru", "s": "a\x00b"},
	} {
		_, err := Validate(a, params)
		if !errors.Is(err, ErrInvalidParameters) {
			t.Errorf("%s: %v, want ErrInvalidParameters", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "rm -rf") {
			t.Errorf("%s: the error repeats the value: %v", name, err)
		}
	}
}

// TestShellMetacharactersStayOneLiteralArgument: a value with shell syntax
// is exactly one argument of the program, and nothing interprets it.
func TestShellMetacharactersStayOneLiteralArgument(t *testing.T) {
	canary := filepath.Join(t.TempDir(), "pwned")
	a := action(t, `
  - name: echo
    argv: [printf, '[%s]\n', "{{.v}}", "--flag={{.w}}"]
    parameters:
      - {name: v, type: string}
      - {name: w, type: string}
`)
	values, err := Validate(a, map[string]string{"v": "; rm -rf /", "w": "$(touch " + canary + ") `touch " + canary + "` && touch " + canary})
	if err != nil {
		t.Fatal(err)
	}
	argv, err := Render(a, values)
	if err != nil {
		t.Fatal(err)
	}
	if len(argv) != 4 || argv[2] != "; rm -rf /" {
		t.Fatalf("argv %q", argv)
	}
	res, err := Run(context.Background(), a, argv, 10*time.Second)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	want := "[; rm -rf /]\n[--flag=$(touch " + canary + ") `touch " + canary + "` && touch " + canary + "]\n"
	if string(res.Output) != want {
		t.Errorf("output %q, want %q", res.Output, want)
	}
	if _, err := os.Stat(canary); err == nil {
		t.Error("a parameter value was executed")
	}
}

func TestTemplateCannotReachBeyondParameters(t *testing.T) {
	a := action(t, `
  - name: a
    argv: [echo, "{{.undeclared}}"]
`)
	if _, err := Render(a, map[string]string{}); err == nil {
		t.Error("an undeclared template key rendered")
	}
}

func TestTimeoutKillsTheProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	a := action(t, fmt.Sprintf(`
  - name: hang
    argv: [sh, -c, 'sleep 1000 & echo $! > %s; wait']
`, pidFile))
	argv, _ := Render(a, nil)
	_, err := Run(context.Background(), a, argv, 500*time.Millisecond)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Run = %v, want ErrTimeout", err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the grandchild %d survived the timeout", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestOutputSelectionAndCap(t *testing.T) {
	a := action(t, `
  - name: both
    argv: [sh, -c, 'echo out; echo err >&2; exit 3']
    output: stderr
`)
	argv, _ := Render(a, nil)
	res, err := Run(context.Background(), a, argv, 10*time.Second)
	if err != nil || res.ExitCode != 3 || string(res.Output) != "err\n" {
		t.Errorf("stderr only: %+v, %v", res, err)
	}
	a.Output = runtimeconfig.OutputBoth
	res, _ = Run(context.Background(), a, argv, 10*time.Second)
	if string(res.Output) != "out\nerr\n" {
		t.Errorf("both: %q", res.Output)
	}
	big := action(t, `
  - name: big
    argv: [sh, -c, 'yes | head -c 100000']
    maxOutputBytes: 1000
`)
	argv, _ = Render(big, nil)
	res, err = Run(context.Background(), big, argv, 10*time.Second)
	if err != nil || len(res.Output) != 1000 || !res.Truncated {
		t.Errorf("capped: %d bytes, truncated %v, %v", len(res.Output), res.Truncated, err)
	}
}

func FuzzValidate(f *testing.F) {
	f.Add("5", "true", "lru", "abc")
	f.Fuzz(func(t *testing.T, n, b, e, s string) {
		a := &runtimeconfig.Action{Name: "a", Argv: []string{"x", "{{.n}}", "{{.s}}"}, Parameters: []runtimeconfig.Parameter{
			{Name: "n", Type: "int"}, {Name: "b", Type: "bool"}, {Name: "e", Type: "enum", AllowedValues: []string{"lru"}},
			{Name: "s", Type: "string", Pattern: "[a-z ;/-]*", MaxLength: 64},
		}}
		values, err := Validate(a, map[string]string{"n": n, "b": b, "e": e, "s": s})
		if err != nil {
			return
		}
		argv, err := Render(a, values)
		if err != nil || len(argv) != 3 || argv[2] != s {
			t.Fatalf("Render = %q, %v", argv, err)
		}
	})
}
