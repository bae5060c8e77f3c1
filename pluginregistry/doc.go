// Package pluginregistry reads, validates and serves plugin versions.
//
// A plugin version is five immutable ConfigMaps in the platform namespace
// (manifest, components, podtemplates, params, operations; DESIGN.md §3).
// Build turns such a set into a typed, validated PluginVersion; every problem
// is reported as a FieldError naming the ConfigMap, the key, the path inside
// the YAML document (and its line) and what was expected. Registry watches the
// ConfigMaps through an informer and serves the valid versions; invalid ones
// are reported with an Event and the plinth.io/validation annotation on their
// manifest ConfigMap and never affect other versions.
//
// The decisions the controllers need are pure functions over the data model:
// CanUpgradePlugin, CanUpgradeMiddleware, ValidateParameters,
// RenderConfigFiles, RenderPodTemplate and RenderOperation. Every template
// (pod templates, config files, operation steps, action argv) uses one
// mechanism, Render, over one fixed Context; see docs/plugins.md.
package pluginregistry
