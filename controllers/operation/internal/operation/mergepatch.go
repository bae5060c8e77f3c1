package operation

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// jsonOp is one RFC 6902 operation.
type jsonOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// keyedPatch turns a merge document into a JSON patch against current (the
// object as read, decoded from JSON): mappings merge field by field, a list
// item that is a mapping with a "name" merges into current's item of that
// name (a test operation pins the index, so a list reordered meanwhile fails
// the patch instead of changing another item), an item with a name current
// does not have is appended, and any other value replaces what is there.
// Nothing the document does not name changes. A null value removes the
// field.
func keyedPatch(current any, merge map[string]any) ([]jsonOp, error) {
	var ops []jsonOp
	if err := patchMap(&ops, "", asMap(current), merge); err != nil {
		return nil, err
	}
	return ops, nil
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func pointer(path, key string) string {
	key = strings.ReplaceAll(key, "~", "~0")
	return path + "/" + strings.ReplaceAll(key, "/", "~1")
}

func patchMap(ops *[]jsonOp, path string, cur, merge map[string]any) error {
	keys := make([]string, 0, len(merge))
	for k := range merge {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		want, p := merge[k], pointer(path, k)
		have, exists := cur[k]
		switch w := want.(type) {
		case nil:
			if exists {
				*ops = append(*ops, jsonOp{Op: "remove", Path: p})
			}
		case map[string]any:
			if hm, ok := have.(map[string]any); ok && exists {
				if err := patchMap(ops, p, hm, w); err != nil {
					return err
				}
				continue
			}
			*ops = append(*ops, jsonOp{Op: "add", Path: p, Value: w})
		case []any:
			if keyedList(w) {
				hl, _ := have.([]any)
				if !exists {
					*ops = append(*ops, jsonOp{Op: "add", Path: p, Value: []any{}})
				}
				if err := patchList(ops, p, hl, w); err != nil {
					return err
				}
				continue
			}
			*ops = append(*ops, jsonOp{Op: "add", Path: p, Value: w})
		default:
			*ops = append(*ops, jsonOp{Op: "add", Path: p, Value: w})
		}
	}
	return nil
}

// keyedList: every item is a mapping with a string "name".
func keyedList(l []any) bool {
	if len(l) == 0 {
		return false
	}
	for _, it := range l {
		m, ok := it.(map[string]any)
		if !ok {
			return false
		}
		if _, ok := m["name"].(string); !ok {
			return false
		}
	}
	return true
}

func patchList(ops *[]jsonOp, path string, cur []any, merge []any) error {
	index := map[string]int{}
	for i, it := range cur {
		if m, ok := it.(map[string]any); ok {
			if n, ok := m["name"].(string); ok {
				index[n] = i
			}
		}
	}
	seen := map[string]bool{}
	appended := len(cur)
	for _, it := range merge {
		m := it.(map[string]any)
		name := m["name"].(string)
		if seen[name] {
			return fmt.Errorf("the patch names list item %q twice at %s", name, path)
		}
		seen[name] = true
		i, ok := index[name]
		if !ok {
			*ops = append(*ops, jsonOp{Op: "add", Path: path + "/-", Value: m})
			appended++
			continue
		}
		p := path + "/" + strconv.Itoa(i)
		*ops = append(*ops, jsonOp{Op: "test", Path: p + "/name", Value: name})
		if err := patchMap(ops, p, cur[i].(map[string]any), m); err != nil {
			return err
		}
	}
	return nil
}

// decodeJSON decodes raw JSON into a generic tree.
func decodeJSON(raw []byte) (any, error) {
	var v any
	err := json.Unmarshal(raw, &v)
	return v, err
}
