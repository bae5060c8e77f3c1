package plugins_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/plinth-io/plinth/internal/middlewaretest"
	"github.com/plinth-io/plinth/pluginregistry"
	"github.com/redis/go-redis/v9"
)

// The Reload templates of v1.2.0 run the config-apply action on every pod:
// it applies "name value" lines to the running server, with no restart, and
// fails with the reason on anything it refuses.

func v12Plugin(t *testing.T, plugin string) *pluginregistry.PluginVersion {
	t.Helper()
	src, err := pluginregistry.FromFolder("../../plugins/"+plugin+"/v1.2.0", pluginregistry.DefaultNamespace)
	if err != nil {
		t.Fatal(err)
	}
	pv, err := pluginregistry.Build(src.Plugin, src.Version, src.ConfigMaps)
	if err != nil {
		t.Fatal(err)
	}
	return pv
}

func TestRedisConfigApply(t *testing.T) {
	// The ops agent's container has REDISCLI_AUTH (runAction sets it).
	middlewaretest.Need(t, "redis-server")
	port := middlewaretest.FreePort(t)
	middlewaretest.StartProcess(t, nil, append([]string{"redis-server"}, middlewaretest.RedisArgs(port, t.TempDir(), "--requirepass", password)...)...)
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), Password: password})
	t.Cleanup(func() { _ = c.Close() })
	middlewaretest.Eventually(t, 30*time.Second, "redis answers PING", func() error { return middlewaretest.Ping(context.Background(), c) })
	pv := v12Plugin(t, "redis")
	apply := func(settings string) (string, error) {
		argv, err := pluginregistry.RenderAction(pv.Action("config-apply"), map[string]string{"settings": settings},
			pluginregistry.Context{Ports: map[string]int32{"redis": int32(port)}})
		if err != nil {
			t.Fatal(err)
		}
		return runAction(t, argv, 30*time.Second)
	}
	get := func(name string) string {
		v, err := c.ConfigGet(context.Background(), name).Result()
		if err != nil {
			t.Fatal(err)
		}
		return v[name]
	}
	runID := func() string {
		info, err := c.Info(context.Background(), "server").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "run_id:"); ok {
				return v
			}
		}
		t.Fatal("no run_id")
		return ""
	}
	before := runID()

	out, err := apply("maxmemory 300mb\n\n  maxmemory-policy allkeys-lru  \nsave 3600 1 300 100\n")
	if err != nil {
		t.Fatalf("config-apply: %v\n%s", err, out)
	}
	for name, want := range map[string]string{"maxmemory": "314572800", "maxmemory-policy": "allkeys-lru", "save": "3600 1 300 100"} {
		if got := get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if !strings.Contains(out, "maxmemory maxmemory-policy save") || strings.Contains(out, "300mb") {
		t.Errorf("the output should name the parameters, not the values:\n%s", out)
	}
	if runID() != before {
		t.Error("redis-server restarted")
	}

	// A refused value changes nothing (one CONFIG SET, all or nothing).
	out, err = apply("maxmemory 100mb\nmaxmemory-policy sometimes")
	if err == nil || !strings.Contains(out, "CONFIG SET refused, nothing was changed") {
		t.Fatalf("a bad value: err %v, output:\n%s", err, out)
	}
	if got := get("maxmemory"); got != "314572800" {
		t.Errorf("maxmemory = %s after a refused Reload, want it unchanged", got)
	}
	for settings, want := range map[string]string{
		"MaxMemory 1mb": `"MaxMemory" is not a Redis parameter name`,
		"\n \n":         "no settings",
	} {
		if out, err := apply(settings); err == nil || !strings.Contains(out, want) {
			t.Errorf("settings %q: err %v, want a failure saying %q:\n%s", settings, err, want, out)
		}
	}
}

func TestPostgreSQLConfigApply(t *testing.T) {
	c := newCluster(t)
	c.pv = v12Plugin(t, "postgresql")
	p0 := c.pod("orders-postgresql-0", "127.0.0.2")
	p0.setTopology(p0.name, p0.ip, false)
	p0.supervise()
	p0.waitQuery(2*time.Minute, "false", "SELECT pg_is_in_recovery()::text")
	started := p0.startTime()

	out := p0.action("config-apply", map[string]string{"settings": "work_mem 12MB\n\nstatement_timeout  5min \napplication_name it's a test\n"})
	if !strings.Contains(out, "work_mem statement_timeout application_name") || strings.Contains(out, "12MB") {
		t.Errorf("the output should name the parameters, not the values:\n%s", out)
	}
	// A new session sees the reloaded values; the quote survived as data.
	p0.waitQuery(30*time.Second, "12MB", "SELECT current_setting('work_mem')")
	p0.waitQuery(30*time.Second, "5min", "SELECT current_setting('statement_timeout')")
	if got := p0.mustQuery("SELECT setting FROM pg_file_settings WHERE name = 'application_name' AND sourcefile LIKE '%auto.conf'"); got != "it's a test" {
		t.Errorf("application_name in postgresql.auto.conf = %q", got)
	}
	if p0.startTime() != started {
		t.Error("postgres restarted")
	}

	for settings, want := range map[string]string{
		"max_connections 300":             "max_connections needs a restart (context postmaster): nothing was changed",
		"work_mem 1MB\nWork_Mem 2MB":      `"Work_Mem" is not a PostgreSQL parameter name`,
		"work_mem 1MB\nno_such_thing 1":   "this server has no parameter no_such_thing",
		"work_mem 1MB'; DROP TABLE x; --": "ALTER SYSTEM refused a value",
		"primary_conninfo host=x":         "primary_conninfo is managed by Plinth",
		"work_mem lots":                   "ALTER SYSTEM refused a value",
	} {
		out, err := p0.tryAction("config-apply", map[string]string{"settings": settings})
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("settings %q: err %v, want a failure saying %q:\n%s", settings, err, want, out)
		}
	}
	if got := p0.mustQuery("SELECT current_setting('work_mem')"); got != "12MB" {
		t.Errorf("work_mem = %s after refused Reloads, want 12MB", got)
	}
	if got := p0.mustQuery("SELECT current_setting('max_connections')"); got == "300" {
		t.Error("max_connections changed")
	}
}
