// Package tenancy_test applies the kustomize base's user roles
// (deploy/kustomize/base/user-roles) and API priority objects
// (deploy/kustomize/base/flowcontrol) to a real kube-apiserver and checks
// what they grant and how they classify requests, acting as the users and
// ServiceAccounts concerned through impersonation.
package tenancy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/plinth-io/plinth/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env, applyBase)) }

// applyBase applies the two manifests with kubectl, as the kustomize base
// does.
func applyBase(e *testenv.Env) (func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, f := range []string{"user-roles/clusterroles.yaml", "flowcontrol/plinth-controllers.yaml"} {
		path := filepath.Join(e.Root, "deploy", "kustomize", "base", f)
		if out, err := e.Kubectl(ctx, "apply", "--server-side", "-f", path); err != nil {
			return nil, fmt.Errorf("kubectl apply -f %s: %v\n%s", path, err, out)
		}
	}
	return func() {}, nil
}

// as is a client acting as user (with groups) through impersonation.
func as(t *testing.T, user string, groups ...string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate.UserName = user
	cfg.Impersonate.Groups = groups
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
