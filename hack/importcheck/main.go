package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

func main() {
	rulesFile := flag.String("rules", "hack/import-restrictions.yaml", "the import restrictions")
	dir := flag.String("C", ".", "directory to run go list in")
	flag.Parse()
	os.Exit(run(*rulesFile, *dir, flag.Args(), os.Stdout, os.Stderr))
}

func run(rulesFile, dir string, patterns []string, stdout, stderr io.Writer) int {
	rules, err := loadRules(rulesFile)
	if err != nil {
		fmt.Fprintf(stderr, "importcheck: %v\n", err)
		return 2
	}
	graph, roots, err := listPackages(dir, patterns)
	if err != nil {
		fmt.Fprintf(stderr, "importcheck: %v\n", err)
		return 2
	}
	violations := check(rules, graph, roots)
	for _, v := range violations {
		fmt.Fprintln(stderr, v)
	}
	if len(violations) > 0 {
		fmt.Fprintf(stderr, "importcheck: %d forbidden import(s); the rules and why: %s\n", len(violations), rulesFile)
		return 1
	}
	fmt.Fprintf(stdout, "importcheck: %d packages keep the %d rules of %s\n", len(roots), len(rules), rulesFile)
	return 0
}

// Rule is one entry of the rules file.
type Rule struct {
	Name   string   `json:"name"`
	Why    string   `json:"why"`
	From   []string `json:"from"`
	Forbid []string `json:"forbid"`
	Allow  []string `json:"allow,omitempty"`
}

func loadRules(path string) ([]Rule, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		Rules []Rule `json:"rules"`
	}
	if err := yaml.UnmarshalStrict(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(f.Rules) == 0 {
		return nil, fmt.Errorf("%s: no rules", path)
	}
	for i, r := range f.Rules {
		if r.Name == "" || len(r.From) == 0 || len(r.Forbid) == 0 {
			return nil, fmt.Errorf("%s: rule %d: name, from and forbid are required", path, i+1)
		}
		for _, p := range slices.Concat(r.From, r.Forbid, r.Allow) {
			if _, err := compile(p, nil); err != nil {
				return nil, fmt.Errorf("%s: rule %s: %w", path, r.Name, err)
			}
		}
	}
	return f.Rules, nil
}

var placeholder = regexp.MustCompile(`\{([a-z][a-zA-Z0-9]*)\}`)

// compile turns a pattern into a regular expression. Placeholders become
// named groups, or the bound value when vars holds one.
func compile(pattern string, vars map[string]string) (*regexp.Regexp, error) {
	p, all := strings.CutSuffix(pattern, "/...")
	if strings.Contains(p, "...") {
		return nil, fmt.Errorf("pattern %q: \"...\" is only allowed as a final \"/...\"", pattern)
	}
	var re strings.Builder
	re.WriteString("^")
	last := 0
	for _, m := range placeholder.FindAllStringSubmatchIndex(p, -1) {
		re.WriteString(regexp.QuoteMeta(p[last:m[0]]))
		name := p[m[2]:m[3]]
		if v, ok := vars[name]; ok {
			re.WriteString(regexp.QuoteMeta(v))
		} else {
			re.WriteString("(?P<" + name + ">[^/]+)")
		}
		last = m[1]
	}
	re.WriteString(regexp.QuoteMeta(p[last:]))
	if all {
		re.WriteString("(/.*)?")
	}
	re.WriteString("$")
	return regexp.Compile(re.String())
}

// match reports whether path matches pattern, and the placeholders it bound.
func match(pattern, path string, vars map[string]string) (bool, map[string]string) {
	re, err := compile(pattern, vars)
	if err != nil {
		return false, nil
	}
	m := re.FindStringSubmatch(path)
	if m == nil {
		return false, nil
	}
	bound := map[string]string{}
	for k, v := range vars {
		bound[k] = v
	}
	for i, name := range re.SubexpNames() {
		if name != "" {
			bound[name] = m[i]
		}
	}
	return true, bound
}

func matchAny(patterns []string, path string, vars map[string]string) bool {
	for _, p := range patterns {
		if ok, _ := match(p, path, vars); ok {
			return true
		}
	}
	return false
}

type pkg struct {
	ImportPath string
	Imports    []string
	Standard   bool
	DepOnly    bool
	Error      *struct{ Err string }
}

// listPackages runs go list and returns the import graph (standard library
// left out) and the packages the patterns named.
func listPackages(dir string, patterns []string) (map[string][]string, []string, error) {
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	cmd := exec.Command("go", append([]string{"list", "-e", "-deps", "-json=ImportPath,Imports,Standard,DepOnly,Error"}, patterns...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, nil, fmt.Errorf("go list %s (in %s): %v: %s", strings.Join(patterns, " "), dir, err, stderr.String())
	}
	graph := map[string][]string{}
	var roots []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, nil, fmt.Errorf("go list output: %w", err)
		}
		if p.Error != nil {
			return nil, nil, fmt.Errorf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		if p.Standard {
			continue
		}
		graph[p.ImportPath] = p.Imports
		if !p.DepOnly {
			roots = append(roots, p.ImportPath)
		}
	}
	return graph, roots, nil
}

// check returns one line per (rule, package, forbidden package): the package
// the rule applies to, the package it must not depend on, the rule, and the
// shortest import chain between them.
func check(rules []Rule, graph map[string][]string, roots []string) []string {
	var out []string
	for _, r := range rules {
		for _, root := range roots {
			var vars map[string]string
			applies := false
			for _, f := range r.From {
				if ok, bound := match(f, root, nil); ok {
					applies, vars = true, bound
					break
				}
			}
			if !applies {
				continue
			}
			// Breadth first, so the chain reported is a shortest one.
			prev := map[string]string{root: ""}
			queue := []string{root}
			for len(queue) > 0 {
				p := queue[0]
				queue = queue[1:]
				for _, imp := range graph[p] {
					if _, seen := prev[imp]; seen {
						continue
					}
					if _, known := graph[imp]; !known {
						continue // standard library
					}
					prev[imp] = p
					if matchAny(r.Forbid, imp, vars) && !matchAny(r.Allow, imp, vars) {
						out = append(out, fmt.Sprintf("%s imports %s, forbidden by rule %q for %s: %s Import chain: %s",
							p, imp, r.Name, root, strings.TrimSpace(r.Why), chain(prev, imp)))
						continue // report each forbidden package, not what it imports
					}
					queue = append(queue, imp)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

func chain(prev map[string]string, last string) string {
	var c []string
	for p := last; p != ""; p = prev[p] {
		c = append(c, p)
	}
	slices.Reverse(c)
	return strings.Join(c, " -> ")
}
