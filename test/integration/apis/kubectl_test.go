package apis_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/plinth-io/plinth/internal/middlewaretest"
)

// kubectlPublishTimeout bounds how long the API server may take to publish a
// CRD's OpenAPI schema and discovery after the CRD is established; both are
// published asynchronously, so the first kubectl call may not see them yet.
const kubectlPublishTimeout = 30 * time.Second

// kubectl explain shows the field descriptions, and kubectl get finds the
// kinds by full name (Argo CD also has an Application), short name and category.
func TestKubectl(t *testing.T) {
	if err := apply(ctx(t), readExample(t, "redis-standalone.yaml")); err != nil {
		t.Fatal(err)
	}
	kubectlShows(t, []string{"explain", "application.spec.components"},
		"Components sets each of the topology's components", "replicas", "Replicas is the number of pods", "parameters")
	for _, args := range [][]string{
		{"get", "applications.plinth.io", "-n", "default"},
		{"get", "papp", "-n", "default"},
		{"get", "plinth", "-n", "default"},
	} {
		kubectlShows(t, args, "cache", "PLUGIN", "PHASE", "READY")
	}
}

// kubectlShows runs kubectl until it succeeds and its output holds every
// wanted string, failing with the last output after kubectlPublishTimeout.
func kubectlShows(t *testing.T, args []string, want ...string) {
	t.Helper()
	middlewaretest.Eventually(t, kubectlPublishTimeout, fmt.Sprintf("kubectl %v", args), func() error {
		out, err := env.Kubectl(ctx(t), args...)
		if err != nil {
			return fmt.Errorf("%v\n%s", err, out)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				return fmt.Errorf("output lacks %q:\n%s", w, out)
			}
		}
		return nil
	})
}
