//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"
	crclient "sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/ctrlmanager"
)

// Helpers for tests of Plinth's own resources.

var (
	plinthOnce   sync.Once
	plinthClient crclient.Client
	restConfig   *rest.Config
)

// api is a controller-runtime client that knows the plinth.io kinds.
func api(t testing.TB) crclient.Client {
	t.Helper()
	plinthOnce.Do(func() {
		cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
		if err != nil {
			return
		}
		s, err := ctrlmanager.Scheme()
		if err != nil {
			return
		}
		restConfig = cfg
		plinthClient, _ = crclient.New(cfg, crclient.Options{Scheme: s})
	})
	if plinthClient == nil {
		t.Fatal("cannot build a client for the plinth.io kinds")
	}
	return plinthClient
}

func redisApplication(ns, name, version, topology string) *plinthv1.Application {
	one := int32(1)
	return &plinthv1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: plinthv1.ApplicationSpec{
			Plugin: "redis", PluginVersion: "v1.0.0", Version: version, Topology: topology,
			Components: []plinthv1.ApplicationComponent{{
				Name: "redis", Replicas: &one,
				Storage: &plinthv1.StorageSpec{Size: resource.MustParse("256Mi")},
			}},
			TerminationPolicy: plinthv1.TerminationDelete,
		},
	}
}

// waitPhase waits for the Application to reach phase and returns it.
func waitPhase(t testing.TB, ns, name string, phase plinthv1.ApplicationPhase, timeout time.Duration) *plinthv1.Application {
	t.Helper()
	app := &plinthv1.Application{}
	eventually(t, timeout, func() error {
		if err := api(t).Get(context.Background(), crclient.ObjectKey{Namespace: ns, Name: name}, app); err != nil {
			return err
		}
		if app.Status.Phase != phase {
			return fmt.Errorf("application %s is %q (ready %s), want %q; conditions %+v", name, app.Status.Phase, app.Status.Ready, phase, app.Status.Conditions)
		}
		return nil
	})
	return app
}

// secretValue reads one key of a Secret.
func secretValue(t testing.TB, ns, name, key string) string {
	t.Helper()
	s, err := client.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, ok := s.Data[key]
	if !ok {
		t.Fatalf("secret %s has no key %q", name, key)
	}
	return string(v)
}

// serviceAddr is host:port of a Service's ClusterIP.
func serviceAddr(t *testing.T, ns, name string, port int32) string {
	t.Helper()
	var svc *corev1.Service
	eventually(t, time.Minute, func() error {
		var err error
		svc, err = client.CoreV1().Services(ns).Get(context.Background(), name, metav1.GetOptions{})
		return err
	})
	return fmt.Sprintf("%s:%d", svc.Spec.ClusterIP, port)
}

// execIn runs argv in a container through the API server (pods/exec).
func execIn(t *testing.T, ns, pod, container string, argv ...string) (string, error) {
	t.Helper()
	api(t)
	req := client.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: argv, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(restConfig, "POST", req.URL())
	if err != nil {
		return "", err
	}
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &errOut})
	return out.String() + errOut.String(), err
}

// killProcess sends SIGKILL to every process named comm in the container,
// using only /proc (the image needs no procps).
func killProcess(t *testing.T, ns, pod, container, comm string) {
	t.Helper()
	script := `n=0; for p in /proc/[0-9]*; do if [ "$(cat $p/comm 2>/dev/null)" = "` + comm + `" ]; then kill -9 ${p#/proc/} && n=$((n+1)); fi; done; echo killed=$n`
	out, err := execIn(t, ns, pod, container, "sh", "-c", script)
	if err != nil || !strings.Contains(out, "killed=") || strings.Contains(out, "killed=0") {
		t.Fatalf("killing %s in %s/%s: %v: %s", comm, pod, container, err, out)
	}
}

// restartCounts maps container name to restart count.
func restartCounts(p *corev1.Pod) map[string]int32 {
	m := map[string]int32{}
	for _, s := range p.Status.ContainerStatuses {
		m[s.Name] = s.RestartCount
	}
	return m
}

// member finds a pod's member record in the WorkloadSet status.
func member(t testing.TB, ns, ws, pod string) (plinthv1.MemberStatus, error) {
	w := &plinthv1.WorkloadSet{}
	if err := api(t).Get(context.Background(), crclient.ObjectKey{Namespace: ns, Name: ws}, w); err != nil {
		return plinthv1.MemberStatus{}, err
	}
	for _, m := range w.Status.Members {
		if m.Name == pod {
			return m, nil
		}
	}
	return plinthv1.MemberStatus{}, fmt.Errorf("%s has no member %s (members %+v)", ws, pod, w.Status.Members)
}

// claimOf is the PVC behind the pod's data volume.
func claimOf(p *corev1.Pod, volume string) string {
	for _, v := range p.Spec.Volumes {
		if v.Name == volume && v.PersistentVolumeClaim != nil {
			return v.PersistentVolumeClaim.ClaimName
		}
	}
	return ""
}

// noComponents checks that nothing was created for an Application.
func noComponents(t *testing.T, ns string) error {
	var comps plinthv1.ComponentList
	if err := api(t).List(context.Background(), &comps, crclient.InNamespace(ns)); err != nil {
		return err
	}
	if len(comps.Items) > 0 {
		return fmt.Errorf("%d Components were created", len(comps.Items))
	}
	var secrets corev1.SecretList
	if err := api(t).List(context.Background(), &secrets, crclient.InNamespace(ns)); err != nil {
		return err
	}
	for _, s := range secrets.Items {
		if strings.HasSuffix(s.Name, "-credentials") {
			return fmt.Errorf("credentials Secret %s was created", s.Name)
		}
	}
	return nil
}

func isGone(err error) bool { return apierrors.IsNotFound(err) }
