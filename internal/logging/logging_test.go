package logging

import (
	"strings"
	"testing"
)

func TestRejectsUnknownSettings(t *testing.T) {
	if _, err := (Options{Level: "loud", Format: "json"}).New(); err == nil || !strings.Contains(err.Error(), "want debug, info, warn or error") {
		t.Fatalf("bad level: %v", err)
	}
	if _, err := (Options{Level: "info", Format: "xml"}).New(); err == nil || !strings.Contains(err.Error(), "want json or console") {
		t.Fatalf("bad format: %v", err)
	}
	for _, f := range []string{"json", "console"} {
		if _, err := (Options{Level: "debug", Format: f}).New(); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
}
