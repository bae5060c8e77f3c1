package pluginregistry_test

import (
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/plinth-io/plinth/pluginregistry"
	"github.com/plinth-io/plinth/runtimeconfig"
)

func TestRenderStatusProbe(t *testing.T) {
	redis := load(t, "../plugins/redis/v1.0.0")
	ctx := sampleContext()
	p, err := pluginregistry.RenderStatusProbe(redis, "redis", &ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.Command, " ") != "redis-cli -p 6379 --no-auth-warning info replication" {
		t.Fatalf("command %v", p.Command)
	}
	if p.Parser != pluginregistry.ParserKeyValue || p.RoleMap["master"] != "primary" || p.RoleMap["slave"] != "replica" {
		t.Fatalf("probe %+v", p)
	}
	// The plugin's own model is not modified by rendering.
	if redis.Component("redis").StatusProbe.Command[2] != "{{ .Ports.redis }}" {
		t.Fatal("rendering changed the plugin version")
	}
}

// The ops agent renders argv elements with the validated parameters as a
// map; AgentArgv leaves exactly that placeholder for each parameter.
func TestAgentArgvRoundTrip(t *testing.T) {
	redis := load(t, "../plugins/redis/v1.0.0")
	a := redis.Action("acl-user-create")
	argv, err := pluginregistry.AgentArgv(a, sampleContext())
	if err != nil {
		t.Fatal(err)
	}
	if argv[2] != "6379" {
		t.Fatalf("context fields must be resolved now: %v", argv)
	}
	params := map[string]string{"user": "app", "password": "s3cretpassword", "keys": "~*", "commands": "+@all"}
	var got []string
	for _, el := range argv {
		tmpl := template.Must(template.New("x").Option("missingkey=error").Parse(el))
		var b strings.Builder
		if err := tmpl.Execute(&b, params); err != nil {
			t.Fatal(err)
		}
		got = append(got, b.String())
	}
	direct, _ := pluginregistry.RenderAction(a, params, sampleContext())
	if strings.Join(got, "\x00") != strings.Join(direct, "\x00") {
		t.Fatalf("agent rendering %q differs from RenderAction %q", got, direct)
	}
}

// A status probe's heartbeat becomes the WorkloadSet's spec.heartbeatSeconds:
// whole seconds from 1s to 1h; none means the probe file's default.
func TestStatusProbeHeartbeat(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"", runtimeconfig.DefaultHeartbeat, ""},
		{"30s", 30 * time.Second, ""},
		{"1m", time.Minute, ""},
		{"1s", time.Second, ""},
		{"1h", time.Hour, ""},
		{"1500ms", 0, "whole seconds"},
		{"500ms", 0, "whole seconds"},
		{"2h", 0, "whole seconds from 1s to 1h0m0s"},
		{"-5s", 0, "whole seconds"},
		{"soon", 0, "not a duration"},
	} {
		p := pluginregistry.StatusProbe{Heartbeat: tc.in}
		got, err := p.HeartbeatDuration()
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("heartbeat %q: error %v, want one containing %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("heartbeat %q = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}
