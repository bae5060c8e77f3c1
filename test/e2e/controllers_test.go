//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

var chain = []string{"application-controller", "component-controller", "workloadset-controller"}

// Kill the leading replica of each controller while an Application is being
// created: the standbys take over their Leases and the Application converges.
func TestLeaderTakeoverMidReconcile(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	holders := map[string]string{}
	for _, c := range chain {
		lease, err := client.CoordinationV1().Leases("plinth-system").Get(ctx, c+".plinth.io", metav1.GetOptions{})
		if err != nil || lease.Spec.HolderIdentity == nil {
			t.Fatalf("lease of %s: %v", c, err)
		}
		holders[c] = *lease.Spec.HolderIdentity
	}
	if err := api(t).Create(ctx, redisApplication(ns, "takeover", "7.0", "standalone")); err != nil {
		t.Fatal(err)
	}
	zero := int64(0)
	for _, c := range chain {
		pod := strings.SplitN(holders[c], "_", 2)[0]
		t.Logf("killing the leader of %s: pod %s", c, pod)
		if err := client.CoreV1().Pods("plinth-system").Delete(ctx, pod, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatalf("deleting %s: %v", pod, err)
		}
	}
	waitPhase(t, ns, "takeover", plinthv1.ApplicationRunning, toRunning)
	for _, c := range chain {
		lease, err := client.CoordinationV1().Leases("plinth-system").Get(ctx, c+".plinth.io", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == holders[c] {
			t.Errorf("%s: Lease still held by the killed leader %s", c, holders[c])
		}
	}
	waitControllersAvailable(t)
}

// Rolling every controller Deployment to a new version (here: new pods and a
// new platform image name for the middleware pods to come) restarts no
// middleware Pod (anchors item 4).
func TestUpgradingControllersRestartsNoMiddleware(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	if err := api(t).Create(ctx, redisApplication(ns, "steady", "7.0", "standalone")); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, ns, "steady", plinthv1.ApplicationRunning, toRunning)
	before := podUIDs(t, ns)
	if len(before) == 0 {
		t.Fatal("no middleware pods")
	}

	deps, err := client.AppsV1().Deployments("plinth-system").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=plinth"})
	if err != nil {
		t.Fatal(err)
	}
	stamp := time.Now().Format(time.RFC3339)
	// Cleanups run last-in first-out: this one waits for the restores below.
	t.Cleanup(func() { waitControllersAvailable(t) })
	for _, d := range deps.Items {
		args := d.Spec.Template.Spec.Containers[0].Args
		upgraded := make([]string, 0, len(args))
		for _, a := range args {
			if strings.HasPrefix(a, "--plinth-image=") {
				// A release that names another platform image. It does not exist
				// here: a middleware pod recreated with it could not even start.
				a = "--plinth-image=localhost/plinth/plinth:next-release"
			}
			upgraded = append(upgraded, a)
		}
		setControllerArgs(t, d, upgraded, stamp)
		orig := d
		t.Cleanup(func() { setControllerArgs(t, orig, orig.Spec.Template.Spec.Containers[0].Args, stamp+"-restored") })
	}
	waitControllersAvailable(t)
	// Let the new controllers list and reconcile everything they own.
	time.Sleep(30 * time.Second)
	waitPhase(t, ns, "steady", plinthv1.ApplicationRunning, time.Minute)
	after := podUIDs(t, ns)
	for name, uid := range before {
		if after[name] != uid {
			t.Errorf("middleware pod %s was replaced (UID %s -> %s) by a controller upgrade", name, uid, after[name])
		}
	}
}

func podUIDs(t *testing.T, ns string) map[string]types.UID {
	t.Helper()
	pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]types.UID{}
	for _, p := range pods.Items {
		out[p.Name] = p.UID
	}
	return out
}

// setControllerArgs patches a controller Deployment's arguments and stamps
// its pod template, which rolls it out.
func setControllerArgs(t *testing.T, d appsv1.Deployment, args []string, stamp string) {
	t.Helper()
	patch, _ := json.Marshal([]map[string]any{
		{"op": "replace", "path": "/spec/template/spec/containers/0/args", "value": args},
		{"op": "add", "path": "/spec/template/metadata/annotations", "value": map[string]string{"plinth.io/e2e-rollout": stamp}},
	})
	if _, err := client.AppsV1().Deployments(d.Namespace).Patch(context.Background(), d.Name, types.JSONPatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("rolling %s: %v", d.Name, err)
	}
}

// waitControllersAvailable waits until every controller Deployment has rolled
// out completely.
func waitControllersAvailable(t *testing.T) {
	t.Helper()
	eventually(t, 4*time.Minute, func() error {
		deps, err := client.AppsV1().Deployments("plinth-system").List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=plinth"})
		if err != nil {
			return err
		}
		for _, d := range deps.Items {
			s := d.Status
			if s.ObservedGeneration < d.Generation || s.UpdatedReplicas != *d.Spec.Replicas || s.AvailableReplicas != *d.Spec.Replicas || s.Replicas != *d.Spec.Replicas {
				return fmt.Errorf("%s: %d updated, %d available, %d total of %d", d.Name, s.UpdatedReplicas, s.AvailableReplicas, s.Replicas, *d.Spec.Replicas)
			}
		}
		return nil
	})
}
