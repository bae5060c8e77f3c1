package pluginregistry_test

import (
	"testing"

	"github.com/plinth-io/plinth/pluginregistry"
)

// load builds a plugin version folder and fails the test if it is invalid.
func load(t *testing.T, dir string) *pluginregistry.PluginVersion {
	t.Helper()
	src, err := pluginregistry.FromFolder(dir, pluginregistry.DefaultNamespace)
	if err != nil {
		t.Fatal(err)
	}
	pv, err := pluginregistry.Build(src.Plugin, src.Version, src.ConfigMaps)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	return pv
}

func sampleContext() pluginregistry.Context {
	return pluginregistry.Context{
		Plugin:      pluginregistry.PluginRef{Name: "redis", Version: "v1.0.0"},
		Application: pluginregistry.ObjectRef{Name: "cache", Namespace: "shop"},
		Component:   pluginregistry.ComponentRef{Name: "cache-redis", Def: "redis", Replicas: 3},
		WorkloadSet: pluginregistry.WorkloadSetRef{Name: "cache-redis-0", Replicas: 3},
		Pod:         pluginregistry.PodRef{Name: "cache-redis-0-1", Ordinal: 1},
		Topology:    "replication",
		Version:     "7.2",
		Image:       "docker.io/library/redis:7.2",
		Ports:       map[string]int32{"redis": 6379, "bus": 16379},
		Secrets:     pluginregistry.SecretsRef{Credentials: "cache-credentials", AgentTLS: "cache-agent-tls"},
		Platform:    pluginregistry.PlatformRef{Image: "ghcr.io/plinth-io/plinth:v0.1.0", Namespace: "plinth-system", BinDir: "/plinth/bin"},
	}
}
