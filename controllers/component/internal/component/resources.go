package component

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// PlatformSidecarResources are the requests and limits a container Plinth
// adds (every init container and every container but the middleware's own)
// gets for a resource that neither the plugin's template nor the
// Application's sidecarResources sets, when the Application sets
// sidecarResources at all. Small: the agents and the install step idle most
// of the time.
var PlatformSidecarResources = corev1.ResourceRequirements{
	Requests: corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("10m"),
		corev1.ResourceMemory: resource.MustParse("32Mi"),
	},
	Limits: corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("200m"),
		corev1.ResourceMemory: resource.MustParse("128Mi"),
	},
}

// applySidecarResources sets the requests and limits of every container of
// spec but the first (the middleware's own, which gets the Application's
// resources) and of every init container. With user nil the plugin's values
// stay as they are, so a Plinth upgrade changes no pod template.
func applySidecarResources(spec *corev1.PodSpec, user *corev1.ResourceRequirements) error {
	if user == nil {
		return nil
	}
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		r, err := sidecarResources(c.Resources, *user)
		if err != nil {
			return fmt.Errorf("init container %s: %w", c.Name, err)
		}
		c.Resources = r
	}
	for i := 1; i < len(spec.Containers); i++ {
		c := &spec.Containers[i]
		r, err := sidecarResources(c.Resources, *user)
		if err != nil {
			return fmt.Errorf("container %s: %w", c.Name, err)
		}
		c.Resources = r
	}
	return nil
}

// sidecarResources merges, per resource: the user's value, else the plugin's,
// else the platform's. A request above its limit is resolved in favour of
// what the user set: an inherited limit rises to the user's request, an
// inherited request falls to the user's limit, and an inherited pair gets
// the limit raised to the request. The user setting both the wrong way round
// is an error.
func sidecarResources(plugin, user corev1.ResourceRequirements) (corev1.ResourceRequirements, error) {
	out := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}, Claims: plugin.Claims}
	for _, layer := range []corev1.ResourceRequirements{PlatformSidecarResources, plugin, user} {
		for k, v := range layer.Requests {
			out.Requests[k] = v.DeepCopy()
		}
		for k, v := range layer.Limits {
			out.Limits[k] = v.DeepCopy()
		}
	}
	names := make([]string, 0, len(out.Requests))
	for k := range out.Requests {
		names = append(names, string(k))
	}
	sort.Strings(names)
	for _, n := range names {
		k := corev1.ResourceName(n)
		req := out.Requests[k]
		lim, hasLimit := out.Limits[k]
		if !hasLimit || req.Cmp(lim) <= 0 {
			continue
		}
		_, userReq := user.Requests[k]
		_, userLim := user.Limits[k]
		switch {
		case userReq && userLim:
			return corev1.ResourceRequirements{}, fmt.Errorf("sidecarResources: requests.%s %s is above limits.%s %s", k, req.String(), k, lim.String())
		case userLim:
			out.Requests[k] = lim.DeepCopy()
		default:
			out.Limits[k] = req.DeepCopy()
		}
	}
	return out, nil
}
