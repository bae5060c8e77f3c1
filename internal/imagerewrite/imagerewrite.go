package imagerewrite

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Rule replaces the image prefix From with To.
type Rule struct {
	From string
	To   string
}

// Rules is an ordered set of rules, longest From first.
type Rules []Rule

// Parse reads rules of the form PREFIX=MIRROR.
func Parse(specs []string) (Rules, error) {
	var rules Rules
	seen := map[string]bool{}
	for _, s := range specs {
		from, to, ok := strings.Cut(s, "=")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		if !ok || from == "" || to == "" {
			return nil, fmt.Errorf("image rewrite %q: want PREFIX=MIRROR, for example docker.io/library/=registry.local/mirror/", s)
		}
		if strings.ContainsAny(from+to, " \t@") {
			return nil, fmt.Errorf("image rewrite %q: prefixes cannot contain spaces or digests", s)
		}
		if seen[from] {
			return nil, fmt.Errorf("image rewrite %q: prefix %q is mapped twice", s, from)
		}
		seen[from] = true
		rules = append(rules, Rule{From: from, To: to})
	}
	sort.SliceStable(rules, func(i, j int) bool { return len(rules[i].From) > len(rules[j].From) })
	return rules, nil
}

// Normalize expands a short image name the way container runtimes do.
func Normalize(image string) string {
	name := image
	first, rest, found := strings.Cut(name, "/")
	if !found {
		return "docker.io/library/" + name
	}
	if !strings.ContainsAny(first, ".:") && first != "localhost" {
		return "docker.io/" + first + "/" + rest
	}
	return name
}

// Image rewrites one image reference; an image no rule matches is unchanged.
func (r Rules) Image(image string) string {
	if len(r) == 0 || image == "" {
		return image
	}
	full := Normalize(image)
	for _, rule := range r {
		if strings.HasPrefix(full, rule.From) {
			return rule.To + strings.TrimPrefix(full, rule.From)
		}
	}
	return image
}

// PodSpec rewrites every container and init container image in spec.
func (r Rules) PodSpec(spec *corev1.PodSpec) {
	for i := range spec.InitContainers {
		spec.InitContainers[i].Image = r.Image(spec.InitContainers[i].Image)
	}
	for i := range spec.Containers {
		spec.Containers[i].Image = r.Image(spec.Containers[i].Image)
	}
}
