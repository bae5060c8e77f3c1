package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/plinth-io/plinth/internal/ctrlmanager"
)

// ControlPlaneStartTimeout is how long each of etcd and kube-apiserver may
// take to start: generous, because a loaded machine (CI beside other builds)
// starts kube-apiserver in well over envtest's default 20s.
const ControlPlaneStartTimeout = 3 * time.Minute

// Env is a running API server with the Plinth CRDs.
type Env struct {
	Config *rest.Config
	Client client.Client
	Scheme *runtime.Scheme
	// Root is the repository root.
	Root string

	env          *envtest.Environment
	kubeconfig   string
	kubectlCache string
}

// RepoRoot finds the repository root (the folder holding go.work).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: cannot find the repository root (no go.work above the test's folder)")
		}
		dir = parent
	}
}

// Option changes how the API server is started.
type Option func(*envtest.Environment)

// WithAPIServerFlag sets one kube-apiserver flag, for example
// service-cluster-ip-range for tests that create many Services.
func WithAPIServerFlag(name, value string) Option {
	return func(e *envtest.Environment) {
		e.ControlPlane.GetAPIServer().Configure().Set(name, value)
	}
}

// Start starts the API server. Call Stop when done (TestMain: after m.Run).
func Start(opts ...Option) (*Env, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets := filepath.Join(root, "bin", "k8s")
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, b)); err != nil {
			return nil, fmt.Errorf("testenv: %s is missing from %s: run hack/build-kube.sh (make test does)", b, assets)
		}
	}
	scheme, err := ctrlmanager.Scheme()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:        []string{filepath.Join(root, "deploy", "kustomize", "base", "crds")},
		ErrorIfCRDPathMissing:    true,
		BinaryAssetsDirectory:    assets,
		Scheme:                   scheme,
		ControlPlaneStartTimeout: ControlPlaneStartTimeout,
		ControlPlaneStopTimeout:  time.Minute,
	}
	for _, o := range opts {
		o(env)
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("testenv: starting kube-apiserver and etcd: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	return &Env{Config: cfg, Client: c, Scheme: scheme, Root: root, env: env}, nil
}

// Stop stops the API server and etcd and removes their data.
func (e *Env) Stop() error {
	if e.kubeconfig != "" {
		_ = os.Remove(e.kubeconfig)
	}
	if e.kubectlCache != "" {
		_ = os.RemoveAll(e.kubectlCache)
	}
	return e.env.Stop()
}

// Kubeconfig writes an admin kubeconfig for the API server and returns its path.
func (e *Env) Kubeconfig() (string, error) {
	if e.kubeconfig != "" {
		return e.kubeconfig, nil
	}
	user, err := e.env.ControlPlane.AddUser(envtest.User{Name: "plinth-test-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", err
	}
	data, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "plinth-envtest-kubeconfig-*")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return "", err
	}
	e.kubeconfig = f.Name()
	return e.kubeconfig, nil
}

// Kubectl runs the pinned kubectl (bin/k8s/kubectl) against the API server.
func (e *Env) Kubectl(ctx context.Context, args ...string) (string, error) {
	kc, err := e.Kubeconfig()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(e.Root, "bin", "k8s", "kubectl")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("testenv: kubectl is missing from bin/k8s: run hack/build-kube.sh kubectl (make test does)")
	}
	// A private discovery cache: kubectl keys its cache by host:port, and
	// another test API server may have used the same port before.
	if e.kubectlCache == "" {
		dir, err := os.MkdirTemp("", "plinth-envtest-kubectl-cache-*")
		if err != nil {
			return "", err
		}
		e.kubectlCache = dir
	}
	out, err := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", kc, "--cache-dir", e.kubectlCache}, args...)...).CombinedOutput()
	return string(out), err
}

// Run is a TestMain helper: it starts an Env, runs each setup (for example
// starting a controller manager against it), runs the tests, then undoes the
// setups in reverse order and stops the Env.
func Run(m *testing.M, env **Env, setups ...func(*Env) (stop func(), err error)) int {
	e, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*env = e
	defer func() {
		if err := e.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv: stopping:", err)
		}
	}()
	var stops []func()
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}()
	for _, setup := range setups {
		stop, err := setup(e)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testenv: setup:", err)
			return 1
		}
		if stop != nil {
			stops = append(stops, stop)
		}
	}
	return m.Run()
}
