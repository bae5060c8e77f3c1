package pluginregistry

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem in one document of a plugin version.
type FieldError struct {
	// ConfigMap is the ConfigMap (or file) holding the document.
	ConfigMap string `json:"configMap"`
	// Key is the ConfigMap data key.
	Key string `json:"key,omitempty"`
	// Path is the path inside the YAML document, like components[0].replicas.min.
	Path string `json:"path,omitempty"`
	// Line is the 1-based line of Path in the document, when known.
	Line int `json:"line,omitempty"`
	// Message says what is wrong and what was expected.
	Message string `json:"message"`
}

func (e FieldError) Error() string {
	var b strings.Builder
	b.WriteString("ConfigMap " + e.ConfigMap)
	if e.Key != "" {
		b.WriteString(", key " + e.Key)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ", line %d", e.Line)
	}
	if e.Path != "" {
		b.WriteString(", path " + e.Path)
	}
	b.WriteString(": " + e.Message)
	return b.String()
}

// InvalidError says a plugin version is invalid and lists every reason.
type InvalidError struct {
	Plugin  string
	Version string
	Errors  []FieldError
	// Incomplete is set when ConfigMaps of the version are missing: they may
	// still be on their way (kubectl apply creates them one by one).
	Incomplete bool
}

func (e *InvalidError) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		msgs[i] = fe.Error()
	}
	return fmt.Sprintf("plugin %s version %s is invalid: %s", e.Plugin, e.Version, strings.Join(msgs, "; "))
}

// ErrNotFound is wrapped by Registry.Get for a plugin version it does not know.
var ErrNotFound = errors.New("plugin version not found")

// ErrContentChanged is wrapped when a version's content differs from the
// content first accepted under the same name.
var ErrContentChanged = errors.New("plugin version content changed under the same name")

// problems collects FieldErrors while a version is checked.
type problems struct {
	list       []FieldError
	incomplete bool
}

func (p *problems) add(doc *document, path, format string, args ...any) {
	fe := FieldError{Path: path, Message: fmt.Sprintf(format, args...)}
	if doc != nil {
		fe.ConfigMap, fe.Key = doc.configMap, doc.key
		fe.Line = doc.line(path)
	}
	p.list = append(p.list, fe)
}

func (p *problems) addError(fe FieldError) { p.list = append(p.list, fe) }

func (p *problems) empty() bool { return len(p.list) == 0 }

// sorted returns the problems in a stable order (ConfigMap, line, path,
// message) with duplicates removed, so messages are deterministic.
func (p *problems) sorted() []FieldError {
	out := append([]FieldError(nil), p.list...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.ConfigMap != b.ConfigMap {
			return a.ConfigMap < b.ConfigMap
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Message < b.Message
	})
	dedup := out[:0]
	for i, fe := range out {
		if i > 0 && fe == out[i-1] {
			continue
		}
		dedup = append(dedup, fe)
	}
	return dedup
}
