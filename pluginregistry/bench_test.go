package pluginregistry_test

import (
	"testing"

	"github.com/plinth-io/plinth/pluginregistry"
)

// BenchmarkBuild measures validating one plugin version (redis v1.0.0).
func BenchmarkBuild(b *testing.B) {
	src, err := pluginregistry.FromFolder("../plugins/redis/v1.0.0", pluginregistry.DefaultNamespace)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := pluginregistry.Build(src.Plugin, src.Version, src.ConfigMaps); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildMini measures the mini plugin the fuzz test mutates.
func BenchmarkBuildMini(b *testing.B) {
	src, err := pluginregistry.FromFolder("testdata/lint/valid-mini/mini", pluginregistry.DefaultNamespace)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := pluginregistry.Build(src.Plugin, src.Version, src.ConfigMaps); err != nil {
			b.Fatal(err)
		}
	}
}
