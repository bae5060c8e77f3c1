package pluginregistry

import (
	"fmt"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// AddToManager builds the Registry over the plugin ConfigMaps of namespace,
// adds it to mgr (it runs on every replica, leader or not) and adds the
// readiness check "plugins" that passes once it has listed them.
func AddToManager(mgr manager.Manager, namespace string, log logr.Logger) (*Registry, error) {
	cs, err := kubernetes.NewForConfig(mgr.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("creating the plugin registry's client: %w", err)
	}
	reg, err := New(cs, Options{Namespace: namespace, Log: log.WithName("pluginregistry")})
	if err != nil {
		return nil, fmt.Errorf("creating the plugin registry: %w", err)
	}
	if err := mgr.Add(reg); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("plugins", reg.ReadyCheck); err != nil {
		return nil, err
	}
	return reg, nil
}
