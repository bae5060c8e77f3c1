package pluginregistry_test

import (
	"strings"
	"testing"

	"github.com/plinth-io/plinth/pluginregistry"
)

// Redis v1.1.0's cluster topology: a bootstrap action that takes what the
// component-controller passes, stable announced hostnames, replicas that
// never migrate, and the heal container only in the cluster topology.
func TestRedisClusterTopology(t *testing.T) {
	redis := load(t, "../plugins/redis/v1.1.0")
	topo := redis.Topology("cluster")
	if topo == nil || topo.Components[0].Bootstrap == nil || topo.Components[0].Bootstrap.Action != "cluster-bootstrap" {
		t.Fatalf("cluster topology: %+v", topo)
	}
	ctx := sampleContext()
	ctx.Topology = "cluster"
	ctx.Params = map[string]string{}
	eff, err := pluginregistry.ValidateParameters(redis, "redis", nil)
	if err != nil {
		t.Fatal(err)
	}
	files, err := pluginregistry.RenderConfigFiles(redis, "redis", eff, ctx)
	if err != nil {
		t.Fatal(err)
	}
	conf := files[0].Content
	for _, want := range []string{"cluster-enabled yes", "cluster-config-file /data/nodes.conf", "cluster-preferred-endpoint-type hostname", "cluster-allow-replica-migration no"} {
		if !strings.Contains(conf, want) {
			t.Errorf("redis.conf lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "\ncluster-announce-hostname") {
		t.Errorf("the config file is shared by every pod; the announced hostname is per pod:\n%s", conf)
	}

	var start string
	for _, f := range files {
		if f.Name == "start.sh" {
			start = f.Content
		}
	}
	if !strings.Contains(start, `--cluster-announce-hostname "$POD_NAME.${primary_host#*.}"`) {
		t.Errorf("start.sh must announce the pod's stable hostname:\n%s", start)
	}
	spec, err := pluginregistry.RenderPodTemplate(redis, "redis", &ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, c := range spec.Spec.Containers {
		names[c.Name] = true
	}
	if !names["cluster-heal"] || !names["ops-agent"] {
		t.Errorf("containers %v: want cluster-heal and ops-agent", names)
	}

	ctx.Topology = "replication"
	files, err = pluginregistry.RenderConfigFiles(redis, "redis", eff, ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.Contains(f.Content, "cluster-") {
			t.Errorf("topology replication: %s has cluster settings:\n%s", f.Name, f.Content)
		}
	}
	spec, err = pluginregistry.RenderPodTemplate(redis, "redis", &ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range spec.Spec.Containers {
		if c.Name == "cluster-heal" || strings.Contains(strings.Join(c.Command, " "), "cluster-announce") {
			t.Errorf("topology replication has cluster settings in container %s", c.Name)
		}
	}
}
