package pluginregistry

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

// DefaultNamespace is the platform namespace the plugin ConfigMaps live in.
const DefaultNamespace = "plinth-system"

// ConfigMapsFile is the file name of a folder that holds ConfigMaps (a YAML
// stream, as kubectl would apply it) instead of the five plain part files.
const ConfigMapsFile = "configmaps.yaml"

// Source is the ConfigMaps of one plugin version and where they came from.
type Source struct {
	Plugin     string
	Version    string
	Origin     string
	ConfigMaps []corev1.ConfigMap
}

// manifestHead is the part of a manifest needed to name the ConfigMaps.
type manifestHead struct {
	Plugin  string `json:"plugin"`
	Version string `json:"version"`
}

// FromFolder turns a plugin version folder holding manifest.yaml,
// components.yaml, podtemplates.yaml, params.yaml and operations.yaml into
// its immutable, labelled ConfigMaps, with the content hash annotation on
// the manifest. Missing files are left out (Build reports them).
func FromFolder(dir, namespace string) (*Source, error) {
	raw, err := os.ReadFile(filepath.Join(dir, PartManifest.Key()))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	var head manifestHead
	if err := yaml.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("%s: cannot read plugin and version: %v", filepath.Join(dir, PartManifest.Key()), err)
	}
	if head.Plugin == "" || head.Version == "" {
		return nil, fmt.Errorf("%s: plugin and version are required", filepath.Join(dir, PartManifest.Key()))
	}
	src := &Source{Plugin: head.Plugin, Version: head.Version, Origin: dir}
	for _, part := range Parts {
		data, err := os.ReadFile(filepath.Join(dir, part.Key()))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		src.ConfigMaps = append(src.ConfigMaps, NewConfigMap(head.Plugin, head.Version, part, namespace, string(data)))
	}
	setHashAnnotation(src.ConfigMaps)
	return src, nil
}

// NewConfigMap is the ConfigMap of one part, as plinth-plugin publishes it.
func NewConfigMap(plugin, version string, part Part, namespace, data string) corev1.ConfigMap {
	immutable := true
	return corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      ConfigMapName(plugin, part, version),
			Namespace: namespace,
			Labels: map[string]string{
				plinthv1.LabelPlugin:        plugin,
				plinthv1.LabelPluginVersion: version,
				plinthv1.LabelPluginPart:    string(part),
				plinthv1.LabelManagedBy:     "plinth",
			},
		},
		Immutable: &immutable,
		Data:      map[string]string{part.Key(): data},
	}
}

func setHashAnnotation(cms []corev1.ConfigMap) {
	hash := ContentHash(cms)
	for i := range cms {
		if cms[i].Labels[plinthv1.LabelPluginPart] == string(PartManifest) {
			if cms[i].Annotations == nil {
				cms[i].Annotations = map[string]string{}
			}
			cms[i].Annotations[AnnotationContentHash] = hash
		}
	}
}

// FromConfigMapsFile reads a YAML stream of ConfigMaps and groups them by
// plugin version (labels).
func FromConfigMapsFile(path string) ([]*Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadConfigMaps(f, path)
}

// ReadConfigMaps groups a YAML stream of ConfigMaps by plugin version.
func ReadConfigMaps(r io.Reader, origin string) ([]*Source, error) {
	dec := utilyaml.NewYAMLReader(bufio.NewReader(r))
	byKey := map[string]*Source{}
	var keys []string
	for i := 0; ; i++ {
		doc, err := dec.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %v", origin, i, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var cm corev1.ConfigMap
		if err := yaml.UnmarshalStrict(doc, &cm); err != nil {
			return nil, fmt.Errorf("%s: document %d is not a ConfigMap: %v", origin, i, err)
		}
		if cm.Kind != "ConfigMap" {
			return nil, fmt.Errorf("%s: document %d has kind %q, expected ConfigMap", origin, i, cm.Kind)
		}
		plugin, version := cm.Labels[plinthv1.LabelPlugin], cm.Labels[plinthv1.LabelPluginVersion]
		if plugin == "" || version == "" {
			return nil, fmt.Errorf("%s: ConfigMap %s lacks the labels %s and %s", origin, cm.Name, plinthv1.LabelPlugin, plinthv1.LabelPluginVersion)
		}
		key := plugin + "/" + version
		if byKey[key] == nil {
			byKey[key] = &Source{Plugin: plugin, Version: version, Origin: origin}
			keys = append(keys, key)
		}
		byKey[key].ConfigMaps = append(byKey[key].ConfigMaps, cm)
	}
	var out []*Source
	for _, k := range keys {
		out = append(out, byKey[k])
	}
	return out, nil
}

// Discover finds every plugin version below dir: folders holding
// manifest.yaml (plain files) or configmaps.yaml (a ConfigMap stream).
func Discover(dir, namespace string) ([]*Source, error) {
	var out []*Source
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		switch d.Name() {
		case PartManifest.Key():
			src, err := FromFolder(filepath.Dir(path), namespace)
			if err != nil {
				return err
			}
			out = append(out, src)
		case ConfigMapsFile:
			srcs, err := FromConfigMapsFile(path)
			if err != nil {
				return err
			}
			out = append(out, srcs...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no plugin version found (expected a folder with %s or %s)", dir, PartManifest.Key(), ConfigMapsFile)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Origin < out[j].Origin })
	return out, nil
}

// LintResult is the outcome of linting one plugin version.
type LintResult struct {
	Source *Source
	Err    error
	// Warnings are the problems of operation templates that cannot run in a
	// version published before the operations contract (publishedBeforeContract):
	// it stays served, and RenderOperation refuses those templates.
	Warnings []FieldError
}

// publishedBeforeContract are the content hashes of the plugin versions
// that were published before the operations contract (switchover steps,
// waits on the conditions and phases the platform sets, strictly typed
// patches). They are immutable, so their templates that break the contract
// are reported as warnings by lint instead of failing it; every other
// version must have none.
var publishedBeforeContract = map[string]string{
	"redis/v1.0.0":      "sha256:bce21fddea9ec02100c75b42c628e087209eb9cc176d3a40643c37895ef4aae1",
	"redis/v1.1.0":      "sha256:3bc4cf87c940f39440ad93ed1d1fc42ec79b43a4b085a158115b689fc36eff70",
	"postgresql/v1.0.0": "sha256:be92510fa56323fb266a37a3d06e03734840d1325964521cdc187ac1d7eb9858",
	"postgresql/v1.1.0": "sha256:0c913b4413384ee607c4ac41de79e0dfad8138059ad5589171a29a5d3f39a9ad",
}

// Lint builds every source and refuses a plugin version defined twice with
// different content.
func Lint(sources []*Source) []LintResult {
	var out []LintResult
	first := map[string]*Source{}
	for _, s := range sources {
		var warnings []FieldError
		key := s.Plugin + "/" + s.Version
		pv, err := Build(s.Plugin, s.Version, s.ConfigMaps)
		if err == nil {
			err = checkDeclaredHash(s.ConfigMaps)
		}
		if err == nil && len(pv.Unrunnable) > 0 {
			var all problems
			for _, name := range slices.Sorted(maps.Keys(pv.Unrunnable)) {
				for _, fe := range pv.Unrunnable[name] {
					all.addError(fe)
				}
			}
			if publishedBeforeContract[key] == pv.Hash {
				warnings = all.sorted()
			} else {
				err = invalid(s.Plugin, s.Version, &all)
			}
		}
		if prev := first[key]; prev != nil {
			if h1, h2 := ContentHash(prev.ConfigMaps), ContentHash(s.ConfigMaps); h1 != h2 {
				dup := fmt.Errorf("plugin %s version %s is defined twice with different content (%s in %s, %s in %s): versions are immutable, publish the change as a new version",
					s.Plugin, s.Version, h1, prev.Origin, h2, s.Origin)
				err = errors.Join(err, dup)
			}
		} else {
			first[key] = s
		}
		out = append(out, LintResult{Source: s, Err: err, Warnings: warnings})
	}
	return out
}

// checkDeclaredHash compares the manifest's content-hash annotation, when
// present, with the content.
func checkDeclaredHash(cms []corev1.ConfigMap) error {
	for _, cm := range cms {
		if cm.Labels[plinthv1.LabelPluginPart] != string(PartManifest) {
			continue
		}
		declared, ok := cm.Annotations[AnnotationContentHash]
		if ok && declared != ContentHash(cms) {
			return fmt.Errorf("ConfigMap %s: annotation %s is %s but the content hashes to %s: the content changed after publishing; publish a new version instead",
				cm.Name, AnnotationContentHash, declared, ContentHash(cms))
		}
	}
	return nil
}

// WriteConfigMaps writes ConfigMaps as a YAML stream, in part order.
func WriteConfigMaps(w io.Writer, cms []corev1.ConfigMap) error {
	sorted := append([]corev1.ConfigMap(nil), cms...)
	order := map[string]int{}
	for i, p := range Parts {
		order[string(p)] = i
	}
	sort.SliceStable(sorted, func(i, j int) bool {
		return order[sorted[i].Labels[plinthv1.LabelPluginPart]] < order[sorted[j].Labels[plinthv1.LabelPluginPart]]
	})
	for _, cm := range sorted {
		out, err := yaml.Marshal(cm)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "---\n%s", out); err != nil {
			return err
		}
	}
	return nil
}

// Kustomization renders the kustomization.yaml that turns a plugin version
// folder into its ConfigMaps with kustomize (immutable, no name suffix,
// labelled, content hash on the manifest).
func Kustomization(src *Source) string {
	var b strings.Builder
	b.WriteString("# Generated by plinth-plugin kustomization; do not edit (make plugins-generate).\n")
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n")
	b.WriteString("generatorOptions:\n  disableNameSuffixHash: true\n  immutable: true\n")
	b.WriteString("configMapGenerator:\n")
	for _, part := range Parts {
		var cm *corev1.ConfigMap
		for i := range src.ConfigMaps {
			if src.ConfigMaps[i].Labels[plinthv1.LabelPluginPart] == string(part) {
				cm = &src.ConfigMaps[i]
			}
		}
		if cm == nil {
			continue
		}
		fmt.Fprintf(&b, "- name: %s\n  files:\n  - %s\n  options:\n    labels:\n", cm.Name, part.Key())
		for _, k := range sortedKeys(cm.Labels) {
			fmt.Fprintf(&b, "      %s: %s\n", k, cm.Labels[k])
		}
		if len(cm.Annotations) > 0 {
			b.WriteString("    annotations:\n")
			for _, k := range sortedKeys(cm.Annotations) {
				fmt.Fprintf(&b, "      %s: %q\n", k, cm.Annotations[k])
			}
		}
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
