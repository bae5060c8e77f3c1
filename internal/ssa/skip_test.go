package ssa

import (
	"encoding/json"
	"testing"
)

func TestContains(t *testing.T) {
	have := `{"metadata":{"name":"a","labels":{"x":"1","y":"2"},"managedFields":[{}]},
		"spec":{"ports":[{"name":"p","port":6379,"protocol":"TCP","targetPort":"p"}],"clusterIP":"10.0.0.1","sessionAffinity":"None"}}`
	for _, tc := range []struct {
		name, want string
		ok         bool
	}{
		{"equal fields", `{"metadata":{"name":"a","labels":{"x":"1"}},"spec":{"ports":[{"name":"p","port":6379}]}}`, true},
		{"defaulted fields are more", `{"spec":{"ports":[{"port":6379,"targetPort":"p"}]}}`, true},
		{"null is no field", `{"metadata":{"creationTimestamp":null},"status":null}`, true},
		{"changed value", `{"metadata":{"labels":{"x":"2"}}}`, false},
		{"removed field", `{"metadata":{"labels":{"z":"1"}}}`, false},
		{"list of another length", `{"spec":{"ports":[{"port":6379},{"port":26379}]}}`, false},
		{"changed list item", `{"spec":{"ports":[{"port":6380}]}}`, false},
		{"another type", `{"spec":{"ports":{"port":6379}}}`, false},
		{"number", `{"spec":{"ports":[{"port":6379.0}]}}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h, w map[string]any
			if err := json.Unmarshal([]byte(have), &h); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tc.want), &w); err != nil {
				t.Fatal(err)
			}
			if got := contains(h, w); got != tc.ok {
				t.Errorf("contains = %v, want %v", got, tc.ok)
			}
		})
	}
}
