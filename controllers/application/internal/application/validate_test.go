package application

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/pluginregistry"
)

func redisApp(mutate ...func(*plinthv1.Application)) *plinthv1.Application {
	app := &plinthv1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "cache", Namespace: "team-a", UID: "uid-1", Generation: 1},
		Spec: plinthv1.ApplicationSpec{
			Plugin: "redis", PluginVersion: "v1.0.0", Version: "7.2", Topology: "standalone",
			TerminationPolicy: plinthv1.TerminationDelete,
		},
	}
	for _, m := range mutate {
		m(app)
	}
	return app
}

func withComponent(c plinthv1.ApplicationComponent) func(*plinthv1.Application) {
	return func(a *plinthv1.Application) { a.Spec.Components = append(a.Spec.Components, c) }
}

func TestPlanValid(t *testing.T) {
	pv := loadPlugin(t, "redis", "v1.1.0")
	tests := []struct {
		name     string
		app      *plinthv1.Application
		want     map[string][2]int32 // component -> replicas, shards
		wantSize map[string]string
	}{
		{
			name:     "standalone with defaults",
			app:      redisApp(),
			want:     map[string][2]int32{"redis": {1, 1}},
			wantSize: map[string]string{"redis": "1Gi"},
		},
		{
			name: "sentinel: both components, defaults per topology, user storage kept",
			app: redisApp(func(a *plinthv1.Application) { a.Spec.Topology = "sentinel" },
				withComponent(plinthv1.ApplicationComponent{Name: "redis", Replicas: ptr.To[int32](5), Storage: &plinthv1.StorageSpec{Size: resource.MustParse("20Gi")}})),
			want:     map[string][2]int32{"redis": {5, 1}, "sentinel": {3, 1}},
			wantSize: map[string]string{"redis": "20Gi", "sentinel": ""},
		},
		{
			name: "cluster: shards default and override",
			app: redisApp(func(a *plinthv1.Application) { a.Spec.Topology = "cluster" },
				withComponent(plinthv1.ApplicationComponent{Name: "redis", Shards: ptr.To[int32](6)})),
			want:     map[string][2]int32{"redis": {2, 6}},
			wantSize: map[string]string{"redis": "1Gi"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, bad := plan(tt.app, pv, nil, "")
			if bad != nil {
				t.Fatalf("unexpected problems: %v", bad)
			}
			if len(rs) != len(tt.want) {
				t.Fatalf("got %d components, want %d", len(rs), len(tt.want))
			}
			for _, r := range rs {
				want, ok := tt.want[r.Def.Name]
				if !ok {
					t.Fatalf("unexpected component %s", r.Def.Name)
				}
				if r.Replicas != want[0] || r.Shards != want[1] {
					t.Errorf("%s: replicas/shards %d/%d, want %d/%d", r.Def.Name, r.Replicas, r.Shards, want[0], want[1])
				}
				size := ""
				if r.Storage != nil {
					size = r.Storage.Size.String()
				}
				if size != tt.wantSize[r.Def.Name] {
					t.Errorf("%s: storage %q, want %q", r.Def.Name, size, tt.wantSize[r.Def.Name])
				}
				if r.Image != "docker.io/library/redis:7.2" {
					t.Errorf("%s: image %q", r.Def.Name, r.Image)
				}
			}
		})
	}
}

func TestPlanMergesParameterDefaults(t *testing.T) {
	pv := loadPlugin(t, "redis", "v1.0.0")
	rs, bad := plan(redisApp(withComponent(plinthv1.ApplicationComponent{Name: "redis", Parameters: map[string]string{"maxmemory": "256mb"}})), pv, nil, "")
	if bad != nil {
		t.Fatal(bad)
	}
	p := rs[0].Params
	if p["maxmemory"] != "256mb" || p["maxmemory-policy"] != "noeviction" || p["appendonly"] != "yes" {
		t.Fatalf("parameters not merged over defaults: %v", p)
	}
}

func TestPlanInvalid(t *testing.T) {
	redis := loadPlugin(t, "redis", "v1.0.0")
	redis11 := loadPlugin(t, "redis", "v1.1.0")
	pg := loadPlugin(t, "postgresql", "v1.0.0")
	tests := []struct {
		name       string
		app        *plinthv1.Application
		pv         *pluginregistry.PluginVersion
		running    *pluginregistry.PluginVersion
		wantReason string
		// wantIn are fragments the message must contain (all of them).
		wantIn []string
	}{
		{
			name:       "unknown topology",
			app:        redisApp(func(a *plinthv1.Application) { a.Spec.Topology = "galaxy" }),
			pv:         redis11,
			wantReason: plinthv1.ReasonTopologyNotFound,
			wantIn:     []string{`spec.topology "galaxy"`, "standalone, replication, sentinel, cluster"},
		},
		{
			name:       "unsupported middleware version",
			app:        redisApp(func(a *plinthv1.Application) { a.Spec.Version = "6.2" }),
			pv:         redis,
			wantReason: plinthv1.ReasonUnsupportedVersion,
			wantIn:     []string{`spec.version "6.2"`, "7.0, 7.2, 7.4, 8.0"},
		},
		{
			name:       "replicas out of the topology's range",
			app:        redisApp(withComponent(plinthv1.ApplicationComponent{Name: "redis", Replicas: ptr.To[int32](3)})),
			pv:         redis,
			wantReason: plinthv1.ReasonInvalidComponents,
			wantIn:     []string{"spec.components[redis].replicas 3 is out of range", "exactly 1"},
		},
		{
			name:       "unknown component",
			app:        redisApp(withComponent(plinthv1.ApplicationComponent{Name: "sentinel"})),
			pv:         redis,
			wantReason: plinthv1.ReasonInvalidComponents,
			wantIn:     []string{`has no component "sentinel"`, "its components are: redis"},
		},
		{
			name:       "shards on a topology without shards",
			app:        redisApp(withComponent(plinthv1.ApplicationComponent{Name: "redis", Shards: ptr.To[int32](3)})),
			pv:         redis,
			wantReason: plinthv1.ReasonInvalidComponents,
			wantIn:     []string{"does not shard component redis; remove shards"},
		},
		{
			name: "shards out of range",
			app: redisApp(func(a *plinthv1.Application) { a.Spec.Topology = "cluster" },
				withComponent(plinthv1.ApplicationComponent{Name: "redis", Shards: ptr.To[int32](2)})),
			pv:         redis11,
			wantReason: plinthv1.ReasonInvalidComponents,
			wantIn:     []string{"shards 2 is out of range", "3 to 64"},
		},
		{
			name:       "parameter violating its constraint",
			app:        redisApp(withComponent(plinthv1.ApplicationComponent{Name: "redis", Parameters: map[string]string{"maxmemory": "lots"}})),
			pv:         redis,
			wantReason: plinthv1.ReasonInvalidParameters,
			wantIn:     []string{"spec.components[redis].parameters", "maxmemory", `"lots"`},
		},
		{
			name:       "unknown parameter",
			app:        redisApp(withComponent(plinthv1.ApplicationComponent{Name: "redis", Parameters: map[string]string{"maxmemroy": "1gb"}})),
			pv:         redis,
			wantReason: plinthv1.ReasonInvalidParameters,
			wantIn:     []string{"maxmemroy", "unknown parameter"},
		},
		{
			name: "name too long",
			app: redisApp(func(a *plinthv1.Application) {
				a.Name = strings.Repeat("a", 60)
			}),
			pv:         redis,
			wantReason: plinthv1.ReasonInvalidComponents,
			wantIn:     []string{"is too long"},
		},
		{
			name: "every problem at once, reason of the first",
			app: redisApp(func(a *plinthv1.Application) { a.Spec.Version = "1.0" },
				withComponent(plinthv1.ApplicationComponent{Name: "redis", Replicas: ptr.To[int32](9), Parameters: map[string]string{"timeout": "-1"}}),
				withComponent(plinthv1.ApplicationComponent{Name: "proxy"})),
			pv:         redis,
			wantReason: plinthv1.ReasonUnsupportedVersion,
			wantIn:     []string{"4 problems", `spec.version "1.0"`, `no component "proxy"`, "replicas 9", "timeout"},
		},
		{
			name:       "storage on a component without a persistent volume",
			app:        redisApp(func(a *plinthv1.Application) { a.Spec.Topology = "sentinel" }, withComponent(plinthv1.ApplicationComponent{Name: "sentinel", Storage: &plinthv1.StorageSpec{Size: resource.MustParse("1Gi")}})),
			pv:         redis11,
			wantReason: plinthv1.ReasonInvalidComponents,
			wantIn:     []string{"spec.components[sentinel].storage", "remove storage"},
		},
		{
			name:       "plugin downgrade",
			app:        redisApp(),
			pv:         redis,
			running:    redis11,
			wantReason: plinthv1.ReasonUpgradeNotAllowed,
			wantIn:     []string{"spec.pluginVersion cannot change from v1.1.0 to v1.0.0", "set it back to v1.1.0"},
		},
		{
			name:       "middleware major upgrade the plugin refuses",
			app:        &plinthv1.Application{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Spec: plinthv1.ApplicationSpec{Plugin: "postgresql", PluginVersion: "v1.0.0", Version: "17", Topology: "standalone"}, Status: plinthv1.ApplicationStatus{Version: "16"}},
			pv:         pg,
			wantReason: plinthv1.ReasonUpgradeNotAllowed,
			wantIn:     []string{"spec.version cannot change from 16 to 17", "set it back to 16"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, bad := plan(tt.app, tt.pv, tt.running, tt.app.Status.Version)
			if bad == nil {
				t.Fatalf("no problem found; resolved %d components", len(rs))
			}
			if rs != nil {
				t.Errorf("resolved components returned with problems")
			}
			t.Log(bad.Error())
			if bad.Reason != tt.wantReason {
				t.Errorf("reason %s, want %s (message: %s)", bad.Reason, tt.wantReason, bad.Error())
			}
			for _, frag := range tt.wantIn {
				if !strings.Contains(bad.Error(), frag) {
					t.Errorf("message lacks %q:\n%s", frag, bad.Error())
				}
			}
		})
	}
}

func TestPlanAllowsDeclaredUpgrades(t *testing.T) {
	redis := loadPlugin(t, "redis", "v1.0.0")
	redis11 := loadPlugin(t, "redis", "v1.1.0")
	app := redisApp(func(a *plinthv1.Application) {
		a.Spec.PluginVersion, a.Spec.Version = "v1.1.0", "7.4"
		a.Status.PluginVersion, a.Status.Version = "v1.0.0", "7.2"
	})
	if _, bad := plan(app, redis11, redis, app.Status.Version); bad != nil {
		t.Fatalf("v1.0.0/7.2 -> v1.1.0/7.4 should be allowed: %v", bad)
	}
}
