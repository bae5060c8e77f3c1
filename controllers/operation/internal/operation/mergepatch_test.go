package operation

import (
	"encoding/json"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"sigs.k8s.io/yaml"
)

// TestKeyedPatchTouchesOnlyWhatItNames applies the computed JSON patch with
// a real RFC 6902 implementation and compares the whole result.
func TestKeyedPatchTouchesOnlyWhatItNames(t *testing.T) {
	cur := `{"spec":{"version":"7.2","components":[
	  {"name":"redis","replicas":3,"resources":{"requests":{"cpu":"100m","memory":"64Mi"}},"parameters":{"maxmemory":"0"}},
	  {"name":"sentinel","replicas":3,"resources":{"requests":{"cpu":"50m"}}}]}}`
	cases := []struct {
		name, merge, want string
	}{
		{"one field of the second item",
			"spec:\n  components:\n    - name: sentinel\n      resources: {requests: {memory: 32Mi}}\n",
			`{"spec":{"version":"7.2","components":[
			  {"name":"redis","replicas":3,"resources":{"requests":{"cpu":"100m","memory":"64Mi"}},"parameters":{"maxmemory":"0"}},
			  {"name":"sentinel","replicas":3,"resources":{"requests":{"cpu":"50m","memory":"32Mi"}}}]}}`},
		{"a scalar at the top and an item's scalar",
			"spec:\n  version: '8.0'\n  components:\n    - {name: redis, replicas: 5}\n",
			`{"spec":{"version":"8.0","components":[
			  {"name":"redis","replicas":5,"resources":{"requests":{"cpu":"100m","memory":"64Mi"}},"parameters":{"maxmemory":"0"}},
			  {"name":"sentinel","replicas":3,"resources":{"requests":{"cpu":"50m"}}}]}}`},
		{"a new item is appended",
			"spec:\n  components:\n    - {name: exporter, replicas: 1}\n",
			`{"spec":{"version":"7.2","components":[
			  {"name":"redis","replicas":3,"resources":{"requests":{"cpu":"100m","memory":"64Mi"}},"parameters":{"maxmemory":"0"}},
			  {"name":"sentinel","replicas":3,"resources":{"requests":{"cpu":"50m"}}},
			  {"name":"exporter","replicas":1}]}}`},
		{"null removes",
			"spec:\n  components:\n    - {name: redis, parameters: null}\n",
			`{"spec":{"version":"7.2","components":[
			  {"name":"redis","replicas":3,"resources":{"requests":{"cpu":"100m","memory":"64Mi"}}},
			  {"name":"sentinel","replicas":3,"resources":{"requests":{"cpu":"50m"}}}]}}`},
		{"a field that does not exist yet",
			"spec:\n  stopped: true\n",
			`{"spec":{"version":"7.2","stopped":true,"components":[
			  {"name":"redis","replicas":3,"resources":{"requests":{"cpu":"100m","memory":"64Mi"}},"parameters":{"maxmemory":"0"}},
			  {"name":"sentinel","replicas":3,"resources":{"requests":{"cpu":"50m"}}}]}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var merge map[string]any
			if err := yaml.Unmarshal([]byte(tc.merge), &merge); err != nil {
				t.Fatal(err)
			}
			tree, err := decodeJSON([]byte(cur))
			if err != nil {
				t.Fatal(err)
			}
			ops, err := keyedPatch(tree, merge)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(ops)
			p, err := jsonpatch.DecodePatch(raw)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Apply([]byte(cur))
			if err != nil {
				t.Fatalf("applying %s: %v", raw, err)
			}
			if !jsonpatch.Equal(got, []byte(tc.want)) {
				t.Fatalf("got %s\nwant %s\npatch %s", got, tc.want, raw)
			}
		})
	}
}

// TestKeyedPatchFailsWhenTheListWasReordered: the test operation pins each
// named item's index.
func TestKeyedPatchFailsWhenTheListWasReordered(t *testing.T) {
	cur := `{"spec":{"components":[{"name":"redis","replicas":1},{"name":"sentinel","replicas":3}]}}`
	tree, _ := decodeJSON([]byte(cur))
	ops, err := keyedPatch(tree, map[string]any{"spec": map[string]any{"components": []any{map[string]any{"name": "sentinel", "replicas": 5}}}})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(ops)
	p, _ := jsonpatch.DecodePatch(raw)
	reordered := `{"spec":{"components":[{"name":"sentinel","replicas":3},{"name":"redis","replicas":1}]}}`
	if _, err := p.Apply([]byte(reordered)); err == nil {
		t.Fatalf("the patch %s applied to a reordered list", raw)
	}
}

func TestKeyedPatchRefusesAnItemNamedTwice(t *testing.T) {
	tree, _ := decodeJSON([]byte(`{"spec":{"components":[{"name":"redis"}]}}`))
	item := map[string]any{"name": "redis", "replicas": 2}
	if _, err := keyedPatch(tree, map[string]any{"spec": map[string]any{"components": []any{item, item}}}); err == nil {
		t.Fatal("no error for an item named twice")
	}
}
