package pluginregistry

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

// AnnotationContentHash, set by plinth-plugin on a manifest ConfigMap, is the
// content hash the version was published with; a mismatch makes it invalid.
const AnnotationContentHash = "plinth.io/content-hash"

// ContentHash is "sha256:<hex>" over the data of a version's ConfigMaps,
// independent of their order, names and metadata.
func ContentHash(cms []corev1.ConfigMap) string {
	type entry struct{ part, key, value string }
	var entries []entry
	for _, cm := range cms {
		part := cm.Labels[plinthv1.LabelPluginPart]
		for k, v := range cm.Data {
			entries = append(entries, entry{part, k, v})
		}
		for k, v := range cm.BinaryData {
			entries = append(entries, entry{part, k, string(v)})
		}
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].part != entries[j].part {
			return entries[i].part < entries[j].part
		}
		return entries[i].key < entries[j].key
	})
	h := sha256.New()
	for _, e := range entries {
		fmt.Fprintf(h, "%d:%s%d:%s%d:%s", len(e.part), e.part, len(e.key), e.key, len(e.value), e.value)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Build validates the ConfigMaps of one plugin version (those labelled with
// the plugin and version) and returns the typed version. Every problem is
// returned in one *InvalidError. Build never panics.
func Build(plugin, version string, cms []corev1.ConfigMap) (pv *PluginVersion, err error) {
	defer func() {
		if r := recover(); r != nil {
			pv = nil
			err = &InvalidError{Plugin: plugin, Version: version, Errors: []FieldError{{
				ConfigMap: ConfigMapName(plugin, PartManifest, version),
				Message:   fmt.Sprintf("internal error while validating (please report this as a bug): %v", r),
			}}}
		}
	}()
	var p problems
	docs := collectParts(plugin, version, cms, &p)
	pv = &PluginVersion{Hash: ContentHash(cms)}
	if docs[PartManifest] == nil {
		return nil, invalid(plugin, version, &p)
	}
	sc, err := newSchemaChecker()
	if err != nil {
		return nil, err
	}
	targets := map[Part]any{
		PartManifest: &pv.Manifest, PartComponents: &pv.Components, PartPodTemplates: &pv.PodTemplates,
		PartParams: &pv.Params, PartOperations: &pv.Operations,
	}
	ok := map[Part]bool{}
	for _, part := range Parts {
		if docs[part] == nil {
			continue
		}
		ok[part] = sc.check(docs[part], part, targets[part], &p)
	}
	if ok[PartManifest] {
		checkRefs(plugin, version, pv, docs, cms, &p)
	}
	if len(ok) == len(Parts) && allTrue(ok) && p.empty() {
		newChecker(pv, docs, sc.ctx, &p).run()
	}
	if !p.empty() {
		return nil, invalid(plugin, version, &p)
	}
	return pv, nil
}

func allTrue(m map[Part]bool) bool {
	for _, v := range m {
		if !v {
			return false
		}
	}
	return true
}

func invalid(plugin, version string, p *problems) error {
	return &InvalidError{Plugin: plugin, Version: version, Errors: p.sorted(), Incomplete: p.incomplete}
}

// collectParts checks the ConfigMaps' metadata and picks one document per part.
func collectParts(plugin, version string, cms []corev1.ConfigMap, p *problems) map[Part]*document {
	docs := map[Part]*document{}
	seen := map[Part]string{}
	for i := range cms {
		cm := &cms[i]
		name := cm.Name
		doc := &document{configMap: name}
		if cm.Labels[plinthv1.LabelPlugin] != plugin || cm.Labels[plinthv1.LabelPluginVersion] != version {
			p.add(doc, "", "labels %s=%q and %s=%q do not match the version being built (%s %s)",
				plinthv1.LabelPlugin, cm.Labels[plinthv1.LabelPlugin], plinthv1.LabelPluginVersion, cm.Labels[plinthv1.LabelPluginVersion], plugin, version)
			continue
		}
		part := Part(cm.Labels[plinthv1.LabelPluginPart])
		if _, known := schemaDefs[part]; !known {
			p.add(doc, "", "label %s=%q is not a known part: expected one of manifest, components, podtemplates, params, operations", plinthv1.LabelPluginPart, part)
			continue
		}
		if prev, dup := seen[part]; dup {
			p.add(doc, "", "a second %s part for %s %s (the first is ConfigMap %s): a version has exactly one ConfigMap per part", part, plugin, version, prev)
			continue
		}
		seen[part] = name
		if cm.Immutable == nil || !*cm.Immutable {
			p.add(doc, "", "the ConfigMap is mutable: plugin versions must be published with immutable: true (publish a new version to change anything)")
		}
		if len(cm.BinaryData) > 0 {
			p.add(doc, "", "binaryData is not allowed: expected only the data key %s", part.Key())
		}
		for k := range cm.Data {
			if k != part.Key() {
				p.add(&document{configMap: name, key: k}, "", "unexpected data key: a %s ConfigMap holds exactly one key, %s", part, part.Key())
			}
		}
		data, has := cm.Data[part.Key()]
		if !has {
			p.add(doc, "", "data key %s is missing", part.Key())
			continue
		}
		docs[part] = &document{configMap: name, key: part.Key(), data: []byte(data)}
	}
	if docs[PartManifest] == nil && seen[PartManifest] == "" {
		p.incomplete = true
		p.add(&document{configMap: ConfigMapName(plugin, PartManifest, version)}, "",
			"the manifest ConfigMap is missing: expected a ConfigMap labelled %s=%s, %s=%s, %s=manifest",
			plinthv1.LabelPlugin, plugin, plinthv1.LabelPluginVersion, version, plinthv1.LabelPluginPart)
	}
	return docs
}

// checkRefs checks the manifest's identity and that its refs resolve.
func checkRefs(plugin, version string, pv *PluginVersion, docs map[Part]*document, cms []corev1.ConfigMap, p *problems) {
	md := docs[PartManifest]
	m := pv.Manifest
	if m.Plugin != plugin {
		p.add(md, "plugin", "plugin %q does not match the ConfigMap label %s=%q", m.Plugin, plinthv1.LabelPlugin, plugin)
	}
	if m.Version != version {
		p.add(md, "version", "version %q does not match the ConfigMap label %s=%q", m.Version, plinthv1.LabelPluginVersion, version)
	}
	refs := []struct {
		part Part
		name string
	}{{PartComponents, m.Refs.Components}, {PartPodTemplates, m.Refs.PodTemplates}, {PartParams, m.Refs.Params}, {PartOperations, m.Refs.Operations}}
	for _, r := range refs {
		path := "refs." + string(r.part)
		var found *corev1.ConfigMap
		for i := range cms {
			if cms[i].Name == r.name {
				found = &cms[i]
			}
		}
		switch {
		case found == nil:
			p.incomplete = true
			p.add(md, path, "ConfigMap %q does not exist among the ConfigMaps of %s %s: expected a ConfigMap with that name labelled %s=%s",
				r.name, plugin, version, plinthv1.LabelPluginPart, r.part)
		case Part(found.Labels[plinthv1.LabelPluginPart]) != r.part:
			p.add(md, path, "ConfigMap %q is labelled %s=%q, expected %q", r.name, plinthv1.LabelPluginPart, found.Labels[plinthv1.LabelPluginPart], r.part)
		case docs[r.part] == nil || docs[r.part].configMap != r.name:
			// the ConfigMap exists but was rejected above; its own error says why
		}
	}
}
