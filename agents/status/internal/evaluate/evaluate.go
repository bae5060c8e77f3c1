// Package evaluate turns a status probe's output into a report: it parses
// the output with the plugin's parser (keyvalue, json, regex), takes the role
// from the role field (renamed by the role map), applies the health rules
// and copies the detail fields. Probe output is untrusted: nothing here
// panics on it, and every value is bounded.
package evaluate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/plinth-io/plinth/apis/statusreport"
	"github.com/plinth-io/plinth/runtimeconfig"
)

// Evaluator is a compiled probe configuration.
type Evaluator struct {
	cfg *runtimeconfig.Probe
	re  *regexp.Regexp
}

// New compiles a validated probe configuration.
func New(cfg *runtimeconfig.Probe) (*Evaluator, error) {
	e := &Evaluator{cfg: cfg}
	if cfg.Parser == runtimeconfig.ParserRegex {
		re, err := regexp.Compile(cfg.Regex)
		if err != nil {
			return nil, err
		}
		e.re = re
	}
	return e, nil
}

// Fields parses output with the configured parser.
func (e *Evaluator) Fields(output []byte) (map[string]string, error) {
	switch e.cfg.Parser {
	case runtimeconfig.ParserKeyValue:
		return KeyValue(output), nil
	case runtimeconfig.ParserJSON:
		return JSON(output)
	case runtimeconfig.ParserRegex:
		return Regex(e.re, output), nil
	}
	return nil, fmt.Errorf("unknown parser %q", e.cfg.Parser)
}

// KeyValue reads "key=value" and "key:value" lines (the first separator
// wins); blank lines, "#" comments and lines without a separator are
// skipped. Keys and values are trimmed; "\r" endings are accepted.
func KeyValue(output []byte) map[string]string {
	fields := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(output))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i <= 0 {
			continue
		}
		k := strings.TrimSpace(line[:i])
		if _, dup := fields[k]; !dup {
			fields[k] = strings.TrimSpace(line[i+1:])
		}
	}
	return fields
}

// JSON reads one JSON object; strings are taken as they are, other values
// (numbers, booleans, null, nested objects) as their JSON text.
func JSON(output []byte) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(bytes.TrimSpace(output), &raw); err != nil {
		return nil, fmt.Errorf("probe output is not a JSON object: %w", err)
	}
	fields := make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			fields[k] = s
		} else {
			fields[k] = string(v)
		}
	}
	return fields, nil
}

// Regex takes the named groups of re's first match.
func Regex(re *regexp.Regexp, output []byte) map[string]string {
	fields := map[string]string{}
	m := re.FindSubmatch(output)
	if m == nil {
		return fields
	}
	for i, name := range re.SubexpNames() {
		if name != "" && m[i] != nil {
			fields[name] = strings.TrimSpace(string(m[i]))
		}
	}
	return fields
}

// Report builds the report of one probe run: its output and its error.
// Timestamp and Sequence are left to the caller.
func (e *Evaluator) Report(output []byte, probeErr error) statusreport.Report {
	if probeErr != nil {
		return unhealthy(statusreport.RoleUnknown, probeErr.Error(), nil)
	}
	fields, err := e.Fields(output)
	if err != nil {
		return unhealthy(statusreport.RoleUnknown, err.Error(), nil)
	}
	details := e.details(fields)
	raw, ok := fields[e.cfg.RoleField]
	if !ok || raw == "" {
		return unhealthy(statusreport.RoleUnknown, fmt.Sprintf("the probe output has no %q field", e.cfg.RoleField), details)
	}
	role := raw
	if mapped, ok := e.cfg.RoleMap[raw]; ok {
		role = mapped
	}
	if !statusreport.ValidRole(role) {
		return unhealthy(statusreport.RoleUnknown, fmt.Sprintf("the probe reported an invalid role %.64q", role), details)
	}
	var problems []string
	for _, r := range e.cfg.Healthy {
		v, ok := fields[r.Field]
		switch {
		case !ok && r.Optional:
		case !ok:
			problems = append(problems, fmt.Sprintf("%s is missing", r.Field))
		case !slices.Contains(r.Values, v):
			problems = append(problems, fmt.Sprintf("%s is %.64q, want one of %v", r.Field, v, r.Values))
		}
	}
	if len(problems) > 0 {
		return unhealthy(role, strings.Join(problems, "; "), details)
	}
	return statusreport.Report{Role: role, Healthy: true, Details: details}
}

func unhealthy(role, reason string, details map[string]string) statusreport.Report {
	return statusreport.Report{Role: role, Healthy: false, Reason: clip(reason, statusreport.MaxReason), Details: details}
}

// details copies the configured fields (all, when none are configured),
// within the report's limits: at most MaxDetails keys in the configured (or
// name) order, values truncated, MaxDetailsBytes once encoded.
func (e *Evaluator) details(fields map[string]string) map[string]string {
	keys := e.cfg.Details
	if len(keys) == 0 {
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
	}
	out := map[string]string{}
	size := 0
	for _, k := range keys {
		v, ok := fields[k]
		if !ok || k == "" || len(k) > statusreport.MaxDetailKey || !utf8.ValidString(k) {
			continue
		}
		if len(out) == statusreport.MaxDetails {
			break
		}
		v = clip(v, statusreport.MaxDetailValue)
		ek, _ := json.Marshal(k)
		ev, _ := json.Marshal(v)
		if size += len(ek) + len(ev) + 2; size > statusreport.MaxDetailsBytes {
			break
		}
		out[k] = v
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// clip makes s valid UTF-8 of at most n bytes, cut at a rune boundary.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
