package pluginregistry_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plinth-io/plinth/pluginregistry"
)

func TestRender(t *testing.T) {
	ctx := sampleContext()
	ctx.Params = map[string]string{"b": "2", "a": "1"}
	cases := []struct {
		name, text, want, wantErr string
	}{
		{"fields", "{{ .Application.Name }}/{{ .Pod.Name }}:{{ .Ports.redis }}", "cache/cache-redis-0-1:6379", ""},
		{"sorted map range", "{{ range $k, $v := .Params }}{{ $k }}={{ $v }};{{ end }}", "a=1;b=2;", ""},
		{"quote", `{{ quote .Application.Name }}`, `"cache"`, ""},
		{"missing key is an error", "{{ .Params.c }}", "", `map has no entry for key "c"`},
		{"unknown field is an error", "{{ .Cluster.Name }}", "", `can't evaluate field Cluster`},
		{"unknown function", "{{ env \"HOME\" }}", "", `function "env" not defined`},
		{"index tolerates optional keys", `{{ with index .Params "c" }}c{{ else }}none{{ end }}`, "none", ""},
		{"syntax error", "{{ .Pod.Name ", "", "unclosed action"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := pluginregistry.Render(c.name, c.text, &ctx)
			checkErr(t, err, c.wantErr)
			if c.wantErr == "" && got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
	if _, err := pluginregistry.Render("spin", `{{ range 100000000000 }}{{ end }}`, &ctx); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("expected a range over a huge literal to be refused, got %v", err)
	}
	if _, err := pluginregistry.Render("spin", `{{ range add 99999 99999 }}{{ end }}`, &ctx); err == nil || !strings.Contains(err.Error(), "outside the template integer range") {
		t.Fatalf("expected computed integers to be bounded, got %v", err)
	}
	if _, err := pluginregistry.Render("big", `{{ range 100000 }}xxxxxxxxxxxxxxxxxxxx{{ end }}`, &ctx); err == nil || !strings.Contains(err.Error(), "exceeds 1 MiB") {
		t.Fatalf("expected the output cap to stop a huge template, got %v", err)
	}
}

func TestRenderPodTemplate(t *testing.T) {
	redis := load(t, "../plugins/redis/v1.0.0")
	ctx := sampleContext()
	spec, err := pluginregistry.RenderPodTemplate(redis, "redis", &ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Spec.InitContainers) != 1 || spec.Spec.InitContainers[0].Image != ctx.Platform.Image {
		t.Fatalf("the init container must copy the binaries from the Plinth image: %+v", spec.Spec.InitContainers)
	}
	main := spec.Spec.Containers[0]
	if main.Image != "docker.io/library/redis:7.2" || main.Command[0] != "/plinth/bin/plinth-procmgr" {
		t.Fatalf("main container: image %s command %v", main.Image, main.Command)
	}
	if got := strings.Join(main.Command, " "); !strings.Contains(got, " -- redis-server /etc/redis/redis.conf ") {
		t.Fatalf("procmgr must run redis-server: %v", main.Command)
	}
	names := []string{}
	for _, c := range spec.Spec.Containers {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "redis,status-agent,ops-agent" {
		t.Fatalf("containers %v", names)
	}
	// The data volume is a placeholder the WorkloadSet replaces with each
	// pod's own PVC: a pod template is rendered once for all its pods.
	found := false
	for _, v := range spec.Spec.Volumes {
		found = found || v.Name == "data"
	}
	if !found {
		t.Fatalf("no data volume: %+v", spec.Spec.Volumes)
	}
	if _, err := pluginregistry.RenderPodTemplate(redis, "proxy", &ctx); err == nil {
		t.Fatal("unknown component rendered")
	}
}

func TestRenderOperation(t *testing.T) {
	redis := load(t, "../plugins/redis/v1.0.0")
	ctx := sampleContext()
	op, err := pluginregistry.RenderOperation(redis, "HorizontalScale", map[string]string{"replicas": "5"}, ctx)
	if err != nil {
		t.Fatal(err)
	}
	if op.Steps[0].Type != pluginregistry.StepPatch || !strings.Contains(op.Steps[0].Patch.Merge, "replicas: 5") || op.Steps[0].Patch.Name != "cache" {
		t.Fatalf("patch step %+v", op.Steps[0].Patch)
	}
	if op.Steps[1].Wait.Name != "cache" || op.Steps[1].Timeout != "30m" {
		t.Fatalf("wait step %+v", op.Steps[1])
	}
	if _, err := pluginregistry.RenderOperation(redis, "HorizontalScale", map[string]string{"replicas": "99"}, ctx); err == nil || !strings.Contains(err.Error(), "violates the constraint") {
		t.Fatalf("out-of-range replicas: %v", err)
	}
	if _, err := pluginregistry.RenderOperation(redis, "HorizontalScale", nil, ctx); err == nil || !strings.Contains(err.Error(), "replicas: is required") {
		t.Fatalf("missing replicas: %v", err)
	}
	if _, err := pluginregistry.RenderOperation(redis, "Explode", nil, ctx); err == nil || !strings.Contains(err.Error(), "expected one of Create") {
		t.Fatalf("unknown template: %v", err)
	}
	// redis v1.0.0's Create waits for a condition nothing sets: refused.
	if _, err := pluginregistry.RenderOperation(redis, "Create", nil, ctx); err == nil || !strings.Contains(err.Error(), `"ComponentsReady"`) {
		t.Fatalf("redis v1.0.0 Create: %v", err)
	}
	// "when" skips the slot pruning outside the replication topology.
	pg := load(t, "../plugins/postgresql/v1.2.0")
	ctx.Topology = "standalone"
	op, err = pluginregistry.RenderOperation(pg, "HorizontalScale", map[string]string{"replicas": "1"}, ctx)
	if err != nil {
		t.Fatal(err)
	}
	if op.Steps[2].Name != "prune-slots" || !op.Skip[2] || op.Skip[0] {
		t.Fatalf("skip flags %v for %s", op.Skip, op.Steps[2].Name)
	}
	ctx.Topology = "replication"
	op, _ = pluginregistry.RenderOperation(pg, "HorizontalScale", map[string]string{"replicas": "2"}, ctx)
	if op.Skip[2] || op.Steps[2].GRPC.Args["replicas"] != "2" || op.Steps[2].GRPC.Policy != "all" {
		t.Fatalf("prune-slots step %+v skip %v", op.Steps[2].GRPC, op.Skip)
	}
}

func TestRenderAction(t *testing.T) {
	redis := load(t, "../plugins/redis/v1.0.0")
	ctx := sampleContext()
	argv, err := pluginregistry.RenderAction(redis.Action("acl-user-create"), map[string]string{"user": "app", "password": "s3cretpassword"}, ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := "redis-cli -p 6379 --no-auth-warning ACL SETUSER app reset on >s3cretpassword ~* +@all"
	if strings.Join(argv, " ") != want {
		t.Fatalf("argv %q, want %q", strings.Join(argv, " "), want)
	}
	// A value with a space cannot smuggle extra ACL rules in: the pattern refuses it.
	_, err = pluginregistry.RenderAction(redis.Action("acl-user-create"), map[string]string{"user": "app on allcommands", "password": "s3cretpassword"}, ctx)
	if err == nil || !strings.Contains(err.Error(), "does not match the pattern") {
		t.Fatalf("expected the pattern to refuse the user name: %v", err)
	}
	// Secret values are never echoed in errors.
	_, err = pluginregistry.RenderAction(redis.Action("acl-user-create"), map[string]string{"user": "app", "password": "short"}, ctx)
	if err == nil || strings.Contains(err.Error(), "short") {
		t.Fatalf("secret parameter error must not contain the value: %v", err)
	}
}

// shquote makes any value one literal shell word: sh prints it back
// unchanged and runs nothing in it (quote's JSON string would let $(...)
// and backquotes run).
func TestShquoteIsOneLiteralShellWord(t *testing.T) {
	// sh is part of every machine these tests run on (Debian's dash):
	// without it the test cannot prove anything, so it fails.
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("no sh to run the quoted words through: %v", err)
	}
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	for _, v := range []string{
		"plain", "", "it's", `a "b" c`, "$(touch " + marker + ")", "`touch " + marker + "`",
		"x'; touch " + marker + "; '", `back\slash \n`, "new\nline", "$HOME ${HOME} *", "-n",
	} {
		ctx := sampleContext()
		ctx.Params = map[string]string{"v": v}
		script, err := pluginregistry.Render("script", `printf '%s' {{ shquote .Params.v }}`, &ctx)
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		out, err := exec.Command(sh, "-c", script).Output()
		if err != nil {
			t.Fatalf("%q: sh -c %q: %v", v, script, err)
		}
		if string(out) != v {
			t.Errorf("%q came back from the shell as %q", v, out)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("%q ran a command in the shell", v)
		}
	}
}
