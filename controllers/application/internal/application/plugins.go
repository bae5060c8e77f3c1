package application

import (
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/plinth-io/plinth/pluginregistry"
)

// Plugins is what the reconciler needs from the plugin registry: the valid
// plugin versions it currently serves. The registry (pluginregistry.Registry)
// satisfies it; the reconciler never reads plugin ConfigMaps itself, and
// watches them through the registry's one informer.
type Plugins interface {
	// Get returns a valid plugin version. An unknown (or invalid) version is
	// an error wrapping pluginregistry.ErrNotFound.
	Get(plugin, version string) (*pluginregistry.PluginVersion, error)
	// Versions lists the valid versions of plugin, for error messages.
	Versions(plugin string) []string
	// Pending says whether ConfigMaps of a version of plugin exist that the
	// registry has not judged yet: its answers are then not final.
	Pending(plugin string) (bool, error)
	// Informer is the registry's informer over the plugin ConfigMaps.
	Informer() toolscache.SharedIndexInformer
}
