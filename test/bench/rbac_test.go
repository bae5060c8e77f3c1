package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/testenv"
	"github.com/plinth-io/plinth/pluginregistry"
)

// The three controllers, each running as its ServiceAccount's user bound to
// exactly the roles generated from its markers
// (deploy/kustomize/base/rbac/<binary>/role.yaml), with leader election on,
// take Applications to Running and delete one with WipeOut: a grant missing
// from a binary's markers stops the chain here.
func TestChainUnderGeneratedRBAC(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the three controller binaries")
	}
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := pluginregistry.DefaultNamespace
	if err := env.InstallPlugins(ctx, ns, "redis/v1.0.0"); err != nil {
		t.Fatal(err)
	}
	admin, err := env.Kubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfigs := map[string]string{}
	for _, c := range controllers {
		user := "system:serviceaccount:" + ns + ":plinth-" + c + "-controller"
		if _, err := env.GrantGeneratedRBAC(ctx, c+"-controller", user); err != nil {
			t.Fatal(err)
		}
		kubeconfigs[c] = impersonating(t, admin, user)
	}
	bins := buildControllers(t, env.Root)
	procs := startControllers(t, bins, kubeconfigs, "--leader-elect=true", "--leader-election-namespace="+ns)
	defer stopControllers(procs)

	kc := kubernetes.NewForConfigOrDie(rest.CopyConfig(env.Config))
	const appNS = "rbac"
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appNS}}); err != nil {
		t.Fatal(err)
	}
	go standInKubelet(ctx, kc, env.Client, appNS)
	for i := 0; i < 2; i++ {
		app := application(appNS, fmt.Sprintf("app-%d", i))
		app.Spec.TerminationPolicy = plinthv1.TerminationWipeOut
		if err := env.Client.Create(ctx, app); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		key := client.ObjectKey{Namespace: appNS, Name: fmt.Sprintf("app-%d", i)}
		if err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
			a := &plinthv1.Application{}
			if err := env.Client.Get(ctx, key, a); err != nil {
				return false, err
			}
			return a.Status.Phase == plinthv1.ApplicationRunning, nil
		}); err != nil {
			t.Fatalf("Application %s never Running under the generated RBAC: %v", key.Name, err)
		}
	}
	for _, c := range controllers {
		if _, err := kc.CoordinationV1().Leases(ns).Get(ctx, c+"-controller.plinth.io", metav1.GetOptions{}); err != nil {
			t.Errorf("%s-controller holds no Lease: %v", c, err)
		}
	}

	gone := &plinthv1.Application{ObjectMeta: metav1.ObjectMeta{Namespace: appNS, Name: "app-0"}}
	if err := env.Client.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(gone), &plinthv1.Application{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	}); err != nil {
		t.Fatalf("Application app-0 (WipeOut) not deleted under the generated RBAC: %v", err)
	}
}

// impersonating writes a copy of the admin kubeconfig that acts as user.
func impersonating(t *testing.T, admin, user string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(admin)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range cfg.AuthInfos {
		a.Impersonate = user
	}
	f := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, f); err != nil {
		t.Fatal(err)
	}
	return f
}
