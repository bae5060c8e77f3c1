package tenancy_test

import (
	"context"
	"testing"
	"time"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// classification is the FlowSchema and priority level the API server put a
// request in, from its X-Kubernetes-PF-* response headers.
type classification struct{ flowSchema, priorityLevel string }

// classify sends one request as user (with groups) and returns how API
// Priority and Fairness classified it. The answer's status does not matter:
// classification happens before authorization.
func classify(t *testing.T, user string, groups []string, path string) classification {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate.UserName = user
	cfg.Impersonate.Groups = groups
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(cfg.Host + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return classification{resp.Header.Get(flowcontrolv1.ResponseHeaderMatchedFlowSchemaUID), resp.Header.Get(flowcontrolv1.ResponseHeaderMatchedPriorityLevelConfigurationUID)}
}

func serviceAccount(ns, name string) (string, []string) {
	return "system:serviceaccount:" + ns + ":" + name, []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
}

func uids(t *testing.T, flowSchema string) classification {
	t.Helper()
	ctx := context.Background()
	fs := &flowcontrolv1.FlowSchema{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: flowSchema}, fs); err != nil {
		t.Fatal(err)
	}
	pl := &flowcontrolv1.PriorityLevelConfiguration{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: fs.Spec.PriorityLevelConfiguration.Name}, pl); err != nil {
		t.Fatal(err)
	}
	return classification{string(fs.UID), string(pl.UID)}
}

// Every Plinth controller's requests, resource and non-resource, go to the
// plinth-controllers priority level; another ServiceAccount's, even in
// plinth-system, stay in the built-in service-accounts FlowSchema.
func TestControllersHaveTheirOwnPriorityLevel(t *testing.T) {
	plinth := uids(t, "plinth-controllers")
	others := uids(t, "service-accounts")
	if plinth == others {
		t.Fatal("the two FlowSchemas have the same UIDs")
	}
	paths := []string{
		"/apis/plinth.io/v1alpha1/namespaces/team-a/applications",
		"/apis/plinth.io/v1alpha1/workloadsets",
		"/api/v1/namespaces/plinth-system/configmaps",
		"/apis/coordination.k8s.io/v1/namespaces/plinth-system/leases",
		"/version",
	}
	check := func(user string, groups []string, want classification) {
		t.Helper()
		// The API server's APF configuration follows the objects within a few seconds.
		deadline := time.Now().Add(30 * time.Second)
		for _, p := range paths {
			for {
				got := classify(t, user, groups, p)
				if got == want {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("%s %s: classified as %+v, want %+v", user, p, got, want)
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	for _, c := range []string{"application", "component", "workloadset", "operation", "backup"} {
		user, groups := serviceAccount("plinth-system", "plinth-"+c+"-controller")
		check(user, groups, plinth)
	}
	user, groups := serviceAccount("plinth-system", "default")
	check(user, groups, others)
	user, groups = serviceAccount("team-a", "plinth-component-controller")
	check(user, groups, others)
}
