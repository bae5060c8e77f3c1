package pluginregistry_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/plinth-io/plinth/pluginregistry"
)

// buildWithPart builds the mini plugin with one part's document replaced,
// failing the test when Build does not return within the deadline (an
// over-budget document must be refused quickly, not evaluated).
func buildWithPart(t *testing.T, part pluginregistry.Part, data string) error {
	t.Helper()
	src, err := pluginregistry.FromFolder("testdata/lint/valid-mini/mini", pluginregistry.DefaultNamespace)
	if err != nil {
		t.Fatal(err)
	}
	cms := append(src.ConfigMaps[:0:0], src.ConfigMaps...)
	for i := range cms {
		if cms[i].Labels["plinth.io/plugin-part"] == string(part) {
			cms[i].Data = map[string]string{part.Key(): data}
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := pluginregistry.Build(src.Plugin, src.Version, cms)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("Build of an over-budget %s part did not return within 20s", part)
		return nil
	}
}

func expectBudget(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("Build accepted an over-budget version")
	}
	if _, ok := err.(*pluginregistry.InvalidError); !ok {
		t.Fatalf("Build returned %T, want *InvalidError: %v", err, err)
	}
	msg := err.Error()
	if strings.Contains(msg, "internal error") {
		t.Fatalf("Build panicked: %v", err)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not mention %q: %.600s", w, msg)
		}
	}
}

// aliasBomb is a "billion laughs" document: each level repeats the previous
// one nine times through aliases, so a few hundred bytes expand to 9^levels
// nodes. merge uses merge keys ("<<") with distinct keys instead of lists.
func aliasBomb(levels int, merge bool) string {
	var b strings.Builder
	b.WriteString("templates: []\n")
	if merge {
		b.WriteString("l0: &l0 {a: 1, b: 1, c: 1, d: 1, e: 1, f: 1, g: 1, h: 1, i: 1}\n")
		for l := 1; l <= levels; l++ {
			fmt.Fprintf(&b, "l%d: &l%d {", l, l)
			for k := 0; k < 9; k++ {
				fmt.Fprintf(&b, "k%d: {<<: *l%d}, ", k, l-1)
			}
			b.WriteString("}\n")
		}
		return b.String()
	}
	b.WriteString("l0: &l0 [x, x, x, x, x, x, x, x, x]\n")
	for l := 1; l <= levels; l++ {
		fmt.Fprintf(&b, "l%d: &l%d [", l, l)
		for k := 0; k < 9; k++ {
			fmt.Fprintf(&b, "*l%d, ", l-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func TestBudgetYAMLAliasBomb(t *testing.T) {
	for _, merge := range []bool{false, true} {
		t.Run(fmt.Sprintf("merge=%v", merge), func(t *testing.T) {
			doc := aliasBomb(9, merge)
			if len(doc) > 2000 {
				t.Fatalf("the bomb is %d bytes; it should be small", len(doc))
			}
			err := buildWithPart(t, pluginregistry.PartPodTemplates, doc)
			expectBudget(t, err, "node budget")
		})
	}
}

func TestBudgetDocumentBytes(t *testing.T) {
	doc := "templates:\n- name: server\n  template: |\n    " + strings.Repeat("# padding padding padding\n    ", 40000) + "\n"
	err := buildWithPart(t, pluginregistry.PartPodTemplates, doc)
	expectBudget(t, err, "byte budget")
}

// A template whose defines call each other twice per level: 2^40 calls that
// write nothing, so the output cap never fires.
func TestBudgetTemplateFanOut(t *testing.T) {
	var tmpl strings.Builder
	for l := 0; l < 40; l++ {
		fmt.Fprintf(&tmpl, `{{define "d%d"}}{{template "d%d"}}{{template "d%d"}}{{end}}`, l, l+1, l+1)
	}
	tmpl.WriteString(`{{define "d40"}}{{end}}{{template "d0"}}`)
	tmpl.WriteString("\nspec:\n  containers:\n  - name: server\n    image: {{ quote .Image }}\n")
	doc := "templates:\n  - name: server\n    template: " + fmt.Sprintf("%q", tmpl.String()) + "\n"
	err := buildWithPart(t, pluginregistry.PartPodTemplates, doc)
	expectBudget(t, err, "step budget")

	// Nested ranges over integers, each within the integer bound.
	nested := `{{range 100000}}{{range 100000}}{{range 100000}}{{end}}{{end}}{{end}}` +
		"\nspec:\n  containers:\n  - name: server\n    image: {{ quote .Image }}\n"
	doc = "templates:\n  - name: server\n    template: " + fmt.Sprintf("%q", nested) + "\n"
	err = buildWithPart(t, pluginregistry.PartPodTemplates, doc)
	expectBudget(t, err, "step budget")
}

// A short CUE constraint whose evaluation takes minutes.
func TestBudgetCUEConstraint(t *testing.T) {
	for _, c := range []string{
		`len([for a in [0,1,2,3,4,5,6,7,8,9] for b in [0,1,2,3,4,5,6,7,8,9] for c in [0,1,2,3,4,5,6,7,8,9] for d in [0,1,2,3,4,5,6,7,8,9] for e in [0,1,2,3,4,5,6,7,8,9] for f in [0,1,2,3,4,5,6,7,8,9] {a}]) > 0`,
		`{a: b: c: 1}.a.b.c > 0`,
		strings.Repeat(">=1 & ", 300) + "<=64",
	} {
		doc := fmt.Sprintf(`components:
  - component: server
    parameters:
      - name: threads
        type: int
        default: "4"
        constraint: %q
`, c)
		err := buildWithPart(t, pluginregistry.PartParams, doc)
		expectBudget(t, err, "constraint")
	}
}
