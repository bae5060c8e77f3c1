package component_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/controllers/component/internal/component"
)

func quantities(kv ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return l
}

// middleware is what the Application gives the middleware's own container.
var middleware = corev1.ResourceRequirements{
	Requests: quantities("cpu", "100m", "memory", "128Mi"),
	Limits:   quantities("cpu", "500m", "memory", "256Mi"),
}

// renderedPodSpec waits for the WorkloadSet name and returns its pod template.
func renderedPodSpec(t *testing.T, ns, name string) corev1.PodSpec {
	t.Helper()
	ws := &plinthv1.WorkloadSet{}
	eventually(t, "WorkloadSet "+name, func() error { return get(t, ns, name, ws) })
	return ws.Spec.Template.Spec
}

// want is the resource value of one container: request or limit of cpu or memory.
func value(r corev1.ResourceRequirements, kind, res string) string {
	l := r.Requests
	if kind == "limits" {
		l = r.Limits
	}
	q, ok := l[corev1.ResourceName(res)]
	if !ok {
		return ""
	}
	return q.String()
}

// checkAll checks every container and init container of spec: the first
// container against main, every other one against sidecar(name).
func checkAll(t *testing.T, spec corev1.PodSpec, main corev1.ResourceRequirements, sidecar func(name string) map[string]string) {
	t.Helper()
	var all []corev1.Container
	all = append(all, spec.InitContainers...)
	all = append(all, spec.Containers...)
	if len(spec.InitContainers) == 0 || len(spec.Containers) < 3 {
		t.Fatalf("expected an init container and the agents: %d init, %d containers", len(spec.InitContainers), len(spec.Containers))
	}
	for _, c := range all {
		for _, kind := range []string{"requests", "limits"} {
			for _, res := range []string{"cpu", "memory"} {
				got := value(c.Resources, kind, res)
				var want string
				if c.Name == spec.Containers[0].Name {
					want = value(main, kind, res)
				} else {
					want = sidecar(c.Name)[kind+"."+res]
				}
				if got == "" || got != want {
					t.Errorf("container %s: %s.%s = %q, want %q", c.Name, kind, res, got, want)
				}
			}
		}
	}
}

func TestEveryContainerHasRequestsAndLimits(t *testing.T) {
	// The plugin's (v1.2.0) own values, per container.
	plugin := map[string]map[string]string{
		"plinth-install": {"requests.cpu": "10m", "requests.memory": "16Mi", "limits.cpu": "500m", "limits.memory": "128Mi"},
		"status-agent":   {"requests.cpu": "10m", "requests.memory": "32Mi", "limits.cpu": "200m", "limits.memory": "128Mi"},
		"ops-agent":      {"requests.cpu": "10m", "requests.memory": "32Mi", "limits.cpu": "500m", "limits.memory": "256Mi"},
		"cluster-heal":   {"requests.cpu": "5m", "requests.memory": "8Mi", "limits.cpu": "100m", "limits.memory": "64Mi"},
	}

	t.Run("plugin defaults", func(t *testing.T) {
		ns := namespace(t)
		comp := newComponent(t, ns, "quota", "replication", "redis", func(s *plinthv1.ComponentSpec) {
			s.PluginVersion, s.Replicas, s.Resources = "v1.2.0", 2, middleware
		})
		checkAll(t, renderedPodSpec(t, ns, comp.Name), middleware, func(name string) map[string]string { return plugin[name] })
	})

	t.Run("the user's values win", func(t *testing.T) {
		ns := namespace(t)
		// Only some values: the rest stays the plugin's. The memory request
		// above a plugin's memory limit (cluster-heal's) raises it.
		user := &corev1.ResourceRequirements{
			Requests: quantities("cpu", "20m", "memory", "100Mi"),
			Limits:   quantities("cpu", "300m"),
		}
		comp := newComponent(t, ns, "grid", "cluster", "redis", func(s *plinthv1.ComponentSpec) {
			s.PluginVersion, s.Shards, s.Resources, s.SidecarResources = "v1.2.0", 3, middleware, user
		})
		spec := renderedPodSpec(t, ns, comp.Name+"-0")
		checkAll(t, spec, middleware, func(name string) map[string]string {
			want := map[string]string{"requests.cpu": "20m", "requests.memory": "100Mi", "limits.cpu": "300m", "limits.memory": plugin[name]["limits.memory"]}
			if name == "cluster-heal" {
				want["limits.memory"] = "100Mi" // the plugin's 64Mi is below the request
			}
			return want
		})
		if !hasContainer(spec, "cluster-heal") {
			t.Error("the cluster topology's helper container is missing")
		}
	})

	t.Run("platform defaults where the plugin sets nothing", func(t *testing.T) {
		ns := namespace(t)
		// v1.0.0 declares no resources for its agents; {} asks for the platform's.
		comp := newComponent(t, ns, "old", "standalone", "redis", func(s *plinthv1.ComponentSpec) {
			s.Resources, s.SidecarResources = middleware, &corev1.ResourceRequirements{}
		})
		p := component.PlatformSidecarResources
		platform := map[string]string{
			"requests.cpu": p.Requests.Cpu().String(), "requests.memory": p.Requests.Memory().String(),
			"limits.cpu": p.Limits.Cpu().String(), "limits.memory": p.Limits.Memory().String(),
		}
		checkAll(t, renderedPodSpec(t, ns, comp.Name), middleware, func(string) map[string]string { return platform })
	})

	t.Run("unset keeps the plugin's template", func(t *testing.T) {
		ns := namespace(t)
		comp := newComponent(t, ns, "asis", "standalone", "redis", nil)
		spec := renderedPodSpec(t, ns, comp.Name)
		for _, c := range append(spec.InitContainers, spec.Containers[1:]...) {
			if len(c.Resources.Requests) != 0 || len(c.Resources.Limits) != 0 {
				t.Errorf("v1.0.0 without sidecarResources: container %s got %+v; a Plinth upgrade would roll the pods", c.Name, c.Resources)
			}
		}
	})

	t.Run("a request above the user's own limit is refused", func(t *testing.T) {
		ns := namespace(t)
		comp := newComponent(t, ns, "wrong", "standalone", "redis", func(s *plinthv1.ComponentSpec) {
			s.SidecarResources = &corev1.ResourceRequirements{Requests: quantities("memory", "1Gi"), Limits: quantities("memory", "64Mi")}
		})
		eventually(t, "RenderFailed", func() error {
			c := &plinthv1.Component{}
			if err := get(t, ns, comp.Name, c); err != nil {
				return err
			}
			for _, cond := range c.Status.Conditions {
				if cond.Type == plinthv1.ConditionReady && cond.Reason == plinthv1.ReasonRenderFailed &&
					strings.Contains(cond.Message, "sidecarResources: requests.memory 1Gi is above limits.memory 64Mi") {
					return nil
				}
			}
			return errorf("conditions %+v", c.Status.Conditions)
		})
	})
}

func hasContainer(spec corev1.PodSpec, name string) bool {
	for _, c := range spec.Containers {
		if c.Name == name {
			return true
		}
	}
	return false
}
