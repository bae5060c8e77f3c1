package pluginregistry_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/plinth-io/plinth/pluginregistry"
)

func TestValidateParameters(t *testing.T) {
	redis := load(t, "../plugins/redis/v1.0.0")
	pg := load(t, "../plugins/postgresql/v1.0.0")
	cases := []struct {
		name      string
		pv        *pluginregistry.PluginVersion
		component string
		values    map[string]string
		wantErr   string
		check     map[string]string // expected effective values
	}{
		{"defaults only", redis, "redis", nil, "", map[string]string{"maxmemory": "0", "maxmemory-policy": "noeviction", "databases": "16"}},
		{"user value wins", redis, "redis", map[string]string{"maxmemory": "2gb"}, "", map[string]string{"maxmemory": "2gb"}},
		{"regex constraint", redis, "redis", map[string]string{"maxmemory": "lots"}, `maxmemory: "lots" violates the constraint`, nil},
		{"enum", redis, "redis", map[string]string{"maxmemory-policy": "lru"}, `maxmemory-policy: "lru" is not allowed: expected one of noeviction`, nil},
		{"range", redis, "redis", map[string]string{"databases": "5000"}, `databases: "5000" violates the constraint >=1 & <=1024`, nil},
		{"not an int", redis, "redis", map[string]string{"timeout": "ten"}, `timeout: "ten" is not an integer`, nil},
		{"unknown", redis, "redis", map[string]string{"maxmemroy": "1gb"}, "maxmemroy: unknown parameter: expected one of", nil},
		{"sentinel params", redis, "sentinel", map[string]string{"quorum": "3"}, "", map[string]string{"quorum": "3", "down-after-milliseconds": "5000"}},
		{"unknown component", redis, "proxy", nil, `has no component "proxy"`, nil},
		{"postgres enum", pg, "postgresql", map[string]string{"wal_level": "minimal"}, `wal_level: "minimal" is not allowed`, nil},
		{"postgres range", pg, "postgresql", map[string]string{"max_connections": "5"}, `max_connections: "5" violates the constraint >=10 & <=10000`, nil},
		{"postgres ok", pg, "postgresql", map[string]string{"shared_buffers": "1GB", "synchronous_commit": "off"}, "", map[string]string{"shared_buffers": "1GB", "max_connections": "100"}},
		{"several errors at once", redis, "redis", map[string]string{"databases": "0", "hz": "0"}, "databases:", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			eff, err := pluginregistry.ValidateParameters(c.pv, c.component, c.values)
			checkErr(t, err, c.wantErr)
			for k, v := range c.check {
				if eff[k] != v {
					t.Errorf("effective %s = %q, want %q", k, eff[k], v)
				}
			}
		})
	}
	_, err := pluginregistry.ValidateParameters(redis, "redis", map[string]string{"databases": "0", "hz": "0"})
	var pe *pluginregistry.ParametersError
	if !errors.As(err, &pe) || len(pe.Errors) != 2 {
		t.Fatalf("expected both parameters to be reported, got %v", err)
	}
}

// The visible change of v1.1.0: new defaults and a new parameter.
func TestV11Changes(t *testing.T) {
	pg10, pg11 := load(t, "../plugins/postgresql/v1.0.0"), load(t, "../plugins/postgresql/v1.1.0")
	e10, _ := pluginregistry.ValidateParameters(pg10, "postgresql", nil)
	e11, _ := pluginregistry.ValidateParameters(pg11, "postgresql", nil)
	if e10["max_connections"] != "100" || e11["max_connections"] != "200" {
		t.Errorf("max_connections defaults: v1.0.0 %q, v1.1.0 %q", e10["max_connections"], e11["max_connections"])
	}
	r10, r11 := load(t, "../plugins/redis/v1.0.0"), load(t, "../plugins/redis/v1.1.0")
	if _, err := pluginregistry.ValidateParameters(r10, "redis", map[string]string{"lazyfree-lazy-eviction": "yes"}); err == nil {
		t.Error("v1.0.0 accepted lazyfree-lazy-eviction, which only v1.1.0 declares")
	}
	if _, err := pluginregistry.ValidateParameters(r11, "redis", map[string]string{"lazyfree-lazy-eviction": "no"}); err != nil {
		t.Errorf("v1.1.0: %v", err)
	}
}

func TestRestartRequired(t *testing.T) {
	redis := load(t, "../plugins/redis/v1.0.0")
	old, _ := pluginregistry.ValidateParameters(redis, "redis", nil)
	upd, _ := pluginregistry.ValidateParameters(redis, "redis", map[string]string{"maxmemory": "1gb", "databases": "32", "io-threads": "4"})
	got, err := pluginregistry.RestartRequired(redis, "redis", old, upd)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "databases,io-threads" {
		t.Fatalf("restart needed for %v, want databases and io-threads (maxmemory is dynamic)", got)
	}
}

func TestRenderConfigFiles(t *testing.T) {
	redis := load(t, "../plugins/redis/v1.0.0")
	ctx := sampleContext()
	files, err := pluginregistry.RenderConfigFiles(redis, "redis", map[string]string{"maxmemory": "256mb", "save": ""}, ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Name != "redis.conf" || files[0].MountPath != "/etc/redis/redis.conf" {
		t.Fatalf("unexpected files %+v", files)
	}
	conf := files[0].Content
	for _, want := range []string{"port 6379\n", "maxmemory 256mb\n", "maxmemory-policy noeviction\n", "save \"\"\n", "appendonly yes\n"} {
		if !strings.Contains(conf, want) {
			t.Errorf("redis.conf lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "cluster-enabled") {
		t.Errorf("replication topology got cluster settings:\n%s", conf)
	}
	ctx.Topology = "cluster"
	files, err = pluginregistry.RenderConfigFiles(redis, "redis", nil, ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(files[0].Content, "cluster-enabled yes\n") || !strings.Contains(files[0].Content, "cluster-node-timeout 15000") {
		t.Errorf("cluster topology lacks cluster settings:\n%s", files[0].Content)
	}
	// Deterministic: same input, same bytes.
	again, _ := pluginregistry.RenderConfigFiles(redis, "redis", nil, ctx)
	if again[0].Content != files[0].Content {
		t.Error("rendering twice gave different bytes")
	}
	// Invalid parameters never render.
	if _, err := pluginregistry.RenderConfigFiles(redis, "redis", map[string]string{"maxmemory": "x"}, ctx); err == nil {
		t.Error("an invalid parameter was rendered")
	}
	pg := load(t, "../plugins/postgresql/v1.0.0")
	pgctx := sampleContext()
	pgctx.Ports = map[string]int32{"postgresql": 5432}
	files, err = pluginregistry.RenderConfigFiles(pg, "postgresql", map[string]string{"max_connections": "300"}, pgctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || !strings.Contains(files[0].Content, "max_connections = '300'") || !strings.Contains(files[1].Content, "host    replication") {
		t.Errorf("unexpected postgresql files: %+v", files)
	}
}

// Config files become keys of a ConfigMap mounted as a volume: ".", ".."
// and names starting with ".." (the kubelet's ..data) are refused at
// validation, not when the ConfigMap is created.
func TestConfigFileNamesThatAreNotFiles(t *testing.T) {
	for _, name := range []string{".", "..", "..data", "..2026_11_28"} {
		doc := `components:
  - component: server
    config-files:
      - name: "` + name + `"
        mount-path: /etc/server.conf
        template: "x"
`
		err := buildWithPart(t, pluginregistry.PartParams, doc)
		if err == nil || !strings.Contains(err.Error(), "config file name \""+name+"\" is refused") {
			t.Errorf("config file %q: %v", name, err)
		}
	}
	doc := "components:\n  - component: server\n    config-files:\n      - {name: .hidden.conf, mount-path: /etc/server.conf, template: x}\n"
	if err := buildWithPart(t, pluginregistry.PartParams, doc); err != nil {
		t.Errorf("a name starting with one dot is a file: %v", err)
	}
}
