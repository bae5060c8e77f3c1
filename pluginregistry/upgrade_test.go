package pluginregistry_test

import (
	"strings"
	"testing"

	"github.com/plinth-io/plinth/pluginregistry"
)

func pvWith(name, version string, allowed ...string) *pluginregistry.PluginVersion {
	return &pluginregistry.PluginVersion{Manifest: pluginregistry.Manifest{Plugin: name, Version: version, AllowedUpgradeFrom: allowed}}
}

func TestCanUpgradePlugin(t *testing.T) {
	cases := []struct {
		name     string
		from, to *pluginregistry.PluginVersion
		wantErr  string // "" means allowed
	}{
		{"listed exactly", pvWith("redis", "v1.0.0"), pvWith("redis", "v1.1.0", "v1.0.0"), ""},
		{"listed by constraint", pvWith("redis", "v1.0.3"), pvWith("redis", "v1.1.0", ">= 1.0.0, < 1.1.0"), ""},
		{"not listed", pvWith("redis", "v0.9.0"), pvWith("redis", "v1.1.0", "v1.0.0"), "does not allow upgrades from v0.9.0 (allowed-upgrade-from: v1.0.0)"},
		{"nothing allowed", pvWith("redis", "v1.0.0"), pvWith("redis", "v1.1.0"), "allowed-upgrade-from: none"},
		{"downgrade", pvWith("redis", "v1.1.0"), pvWith("redis", "v1.0.0", "v1.1.0"), "plugin downgrades are not allowed"},
		{"same version", pvWith("redis", "v1.0.0"), pvWith("redis", "v1.0.0", "v1.0.0"), "is not newer"},
		{"other plugin", pvWith("redis", "v1.0.0"), pvWith("postgresql", "v1.1.0", "v1.0.0"), "cannot change plugin from redis to postgresql"},
		{"constraint excludes", pvWith("redis", "v1.1.0"), pvWith("redis", "v1.2.0", ">= 1.0.0, < 1.1.0"), "does not allow upgrades from v1.1.0"},
		{"prerelease target", pvWith("redis", "v1.0.0"), pvWith("redis", "v1.1.0-rc.1", "v1.0.0"), ""},
		{"nil", nil, pvWith("redis", "v1.1.0"), "both plugin versions are needed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := pluginregistry.CanUpgradePlugin(c.from, c.to)
			checkErr(t, err, c.wantErr)
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("expected success, got %v", err)
	case want != "" && err == nil:
		t.Fatalf("expected an error containing %q, got success", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("expected an error containing %q, got %q", want, err.Error())
	}
}

func TestCanUpgradeMiddleware(t *testing.T) {
	redis := load(t, "../plugins/redis/v1.0.0")
	pg := load(t, "../plugins/postgresql/v1.0.0")
	custom := &pluginregistry.PluginVersion{Manifest: pluginregistry.Manifest{Plugin: "x", Version: "v1.0.0", SupportedVersions: []pluginregistry.SupportedVersion{
		{Version: "1.0", Image: "x:1.0"}, {Version: "1.1", Image: "x:1.1"}, {Version: "2.0", Image: "x:2.0", UpgradeFrom: []string{"1.1"}},
	}}}
	cases := []struct {
		name     string
		pv       *pluginregistry.PluginVersion
		from, to string
		wantErr  string
	}{
		{"redis minor", redis, "7.0", "7.2", ""},
		{"redis major", redis, "7.4", "8.0", ""},
		{"redis skip", redis, "7.0", "8.0", ""},
		{"redis downgrade", redis, "7.4", "7.2", "cannot downgrade middleware from 7.4 to 7.2"},
		{"redis same", redis, "7.2", "7.2", "already 7.2"},
		{"redis unsupported target", redis, "7.2", "6.2", `does not support middleware version "6.2" (supported: 7.0, 7.2, 7.4, 8.0)`},
		{"redis unsupported source", redis, "6.2", "7.2", `does not support middleware version "6.2"`},
		{"postgres major needs pg_upgrade", pg, "15", "16", "cannot upgrade middleware 15 in place to 16 (upgrade-from of 16: none)"},
		{"upgrade-from lists source", custom, "1.1", "2.0", ""},
		{"upgrade-from excludes source", custom, "1.0", "2.0", "upgrade-from of 2.0: 1.1"},
		{"nil version", nil, "1", "2", "the plugin version is needed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkErr(t, pluginregistry.CanUpgradeMiddleware(c.pv, c.from, c.to), c.wantErr)
		})
	}
}

// v1.1.0 of each shipped plugin accepts upgrades from v1.0.0 and not back.
func TestShippedUpgradePaths(t *testing.T) {
	for _, p := range []string{"redis", "postgresql"} {
		v10 := load(t, "../plugins/"+p+"/v1.0.0")
		v11 := load(t, "../plugins/"+p+"/v1.1.0")
		if err := pluginregistry.CanUpgradePlugin(v10, v11); err != nil {
			t.Errorf("%s v1.0.0 -> v1.1.0: %v", p, err)
		}
		if err := pluginregistry.CanUpgradePlugin(v11, v10); err == nil {
			t.Errorf("%s v1.1.0 -> v1.0.0 was allowed", p)
		}
		for _, op := range pluginregistry.BuiltinOperations {
			if v10.OperationTemplate(op) == nil {
				t.Errorf("%s v1.0.0 lacks the operation template %s", p, op)
			}
		}
	}
}
