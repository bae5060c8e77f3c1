package agentrun

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Mask replaces what is redacted.
const Mask = "***"

// minSubstring: secret values at least this long are replaced wherever they
// occur; shorter ones only where they stand as a whole word (replacing "ab"
// inside every word would make the output unreadable).
const minSubstring = 4

// minCutPrefix is the shortest start of a secret value that is still
// redacted at the very end of an output the agent truncated.
const minCutPrefix = 3

// patterns are credential shapes redacted whatever their value, in order.
var patterns = []struct {
	re   *regexp.Regexp
	repl string
}{
	// PEM private key blocks, also when the output was cut inside one.
	{regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)`), "-----" + Mask + " PRIVATE KEY-----"},
	// user:password@ in connection URLs (redis://, postgresql://, https://).
	{regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://[^\s:/@]*):[^\s@/]*@`), "${1}:" + Mask + "@"},
	// Authorization schemes.
	{regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+`), "${1} " + Mask},
	// key=value, key: value, "key": "value" with a sensitive key
	// (conninfo password=…, JSON, YAML, env dumps).
	{regexp.MustCompile(`(?i)([\w.-]*(?:passw(?:or)?d|pwd|secret|token|api[_-]?key|access[_-]?key|credential|masterauth|requirepass|auth)[\w.-]*["']?\s*[=:]\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,;&"'}\])]+)`), "${1}" + Mask},
	// Command-line flags: --password x, --token x, redis-cli -a x.
	{regexp.MustCompile(`(?i)((?:^|\s)(?:--?[\w-]*(?:passw(?:or)?d|pass|pwd|secret|token|auth)|-a))\s+("[^"]*"|'[^']*'|\S+)`), "${1} " + Mask},
	// Redis commands and configuration: AUTH [user] pass, requirepass x,
	// masterauth x, CONFIG SET requirepass x.
	{regexp.MustCompile(`(?i)\b(requirepass|masterauth)\s+("[^"]*"|'[^']*'|\S+)`), "${1} " + Mask},
	{regexp.MustCompile(`(?i)\b(auth)\s+[^\s)\]}]+(?:\s+[^\s)\]}]+)?`), "${1} " + Mask},
	// SQL: PASSWORD 'x'.
	{regexp.MustCompile(`(?i)\b(password)\s+('(?:[^']|'')*'|"[^"]*")`), "${1} " + Mask},
}

// Redactor removes credentials from text that leaves a controller.
type Redactor struct {
	long  []string         // replaced wherever they occur, longest first
	short []*regexp.Regexp // replaced as whole words
}

// NewRedactor redacts the given secret values (empty ones are ignored) and
// the credential patterns.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	seen := map[string]bool{}
	for _, s := range secrets {
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		if len(s) >= minSubstring {
			r.long = append(r.long, s)
			continue
		}
		r.short = append(r.short, regexp.MustCompile(`(^|[^\p{L}\p{N}_])`+regexp.QuoteMeta(s)+`($|[^\p{L}\p{N}_])`))
	}
	slices.SortFunc(r.long, func(a, b string) int { return len(b) - len(a) })
	return r
}

// Redact returns s without the secret values and credential patterns.
func (r *Redactor) Redact(s string) string {
	for _, v := range r.long {
		s = strings.ReplaceAll(s, v, Mask)
	}
	for _, re := range r.short {
		s = re.ReplaceAllString(s, "${1}"+Mask+"${2}")
	}
	for _, p := range patterns {
		s = p.re.ReplaceAllString(s, p.repl)
	}
	return s
}

// redactCut also redacts the start of a secret value left at the end of s
// where s was cut short (the agent truncated the output).
func (r *Redactor) redactCut(s string) string {
	for _, v := range r.long {
		for k := len(v) - 1; k >= minCutPrefix; k-- {
			if strings.HasSuffix(s, v[:k]) {
				s = s[:len(s)-k] + Mask
				break
			}
		}
	}
	return s
}

// Output is out redacted, with control characters other than newline and
// tab dropped, cut to its last max bytes (at a character boundary); cut says
// whether anything was cut. truncated says the agent cut out short already.
func (r *Redactor) Output(out string, truncated bool, max int) (s string, cut bool) {
	s = strings.ToValidUTF8(out, "\uFFFD")
	if truncated {
		s = r.redactCut(s)
	}
	s = r.Redact(s)
	s = strings.Map(func(c rune) rune {
		if c == '\n' || c == '\t' || unicode.IsPrint(c) {
			return c
		}
		return -1
	}, s)
	if len(s) <= max {
		return s, false
	}
	i := len(s) - max
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return s[i:], true
}

// OneLine is s on one line (newlines and other control characters become
// spaces, runs of spaces one) cut to at most n bytes, ending in "..." when
// cut. It does not redact: use it on redacted text.
func OneLine(s string, n int) string {
	s = strings.Join(strings.FieldsFunc(s, func(c rune) bool { return unicode.IsSpace(c) || !unicode.IsPrint(c) }), " ")
	if len(s) <= n {
		return s
	}
	cut := max(n-3, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// LastLine is the last non-blank line of s, on one line, at most n bytes.
func LastLine(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return OneLine(lines[len(lines)-1], n)
}
