package application

import (
	"github.com/plinth-io/plinth/pluginregistry"
)

// Plugins is what the reconciler needs from the plugin registry: the valid
// plugin versions it currently serves. The registry (pluginregistry.Registry)
// satisfies it; the reconciler never reads plugin ConfigMaps itself.
type Plugins interface {
	// Get returns a valid plugin version. An unknown (or invalid) version is
	// an error wrapping pluginregistry.ErrNotFound.
	Get(plugin, version string) (*pluginregistry.PluginVersion, error)
	// Versions lists the valid versions of plugin, for error messages.
	Versions(plugin string) []string
}
