package operation_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/controllers/operation/internal/operation"
	"github.com/plinth-io/plinth/internal/testenv"
	"github.com/plinth-io/plinth/pluginregistry"
)

var (
	env     *testenv.Env
	plugins *pluginregistry.Registry
)

// testVersion is plugins/redis/v1.2.0 with templates that try to reach
// outside their target (escapeTemplates), installed as this version.
const testVersion = "v1.99.0"

const escapeTemplates = `  - name: EscapePatch
    parameters:
      - {name: other, type: string, required: true}
    steps:
      - name: patch-other
        type: patch
        timeout: 30s
        patch: {kind: Application, name: "{{ .Args.other }}", merge: "spec: {stopped: true}"}
  - name: EscapeNamespace
    parameters:
      - {name: ns, type: string, required: true}
    steps:
      - name: configmap-elsewhere
        type: resource
        timeout: 30s
        resource:
          action: apply
          manifest: |
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: planted, namespace: {{ quote .Args.ns }}}
            data: {a: b}
  - name: EscapeUnowned
    parameters:
      - {name: name, type: string, required: true}
    steps:
      - name: overwrite
        type: resource
        timeout: 30s
        resource:
          action: apply
          manifest: |
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: {{ quote .Args.name }}}
            data: {a: b}
  - name: EscapeSecret
    steps:
      - name: secret
        type: resource
        timeout: 30s
        resource:
          action: apply
          manifest: |
            apiVersion: v1
            kind: Secret
            metadata: {name: planted}
`

func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env, startRegistry, buildProcmgr)) }

// startRegistry installs redis v1.2.0 and the test version, and runs a
// plugin registry the tests' managers share.
func startRegistry(e *testenv.Env) (stop func(), err error) {
	ctrl.SetLogger(logr.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			cancel()
		}
	}()
	if err := e.InstallPlugins(ctx, pluginregistry.DefaultNamespace, "redis/v1.2.0"); err != nil {
		return nil, err
	}
	dir, err := testPlugin(e.Root)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(filepath.Dir(dir))
	if err := e.InstallPluginFolders(ctx, pluginregistry.DefaultNamespace, dir); err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return nil, err
	}
	if plugins, err = pluginregistry.New(cs, pluginregistry.Options{}); err != nil {
		return nil, err
	}
	go func() { _ = plugins.Start(ctx) }()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		_, err1 := plugins.Get("redis", "v1.2.0")
		_, err2 := plugins.Get("redis", testVersion)
		if err1 == nil && err2 == nil {
			return cancel, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the registry never served the test plugins: %v; %v", err1, err2)
		}
	}
}

// testPlugin writes the test version's folder: redis v1.2.0 renamed, with
// escapeTemplates added.
func testPlugin(root string) (string, error) {
	src := filepath.Join(root, "plugins", "redis", "v1.2.0")
	dir, err := os.MkdirTemp("", "plinth-optest-")
	if err != nil {
		return "", err
	}
	dst := filepath.Join(dir, testVersion)
	if err := os.Mkdir(dst, 0o755); err != nil {
		return "", err
	}
	files, err := filepath.Glob(filepath.Join(src, "*.yaml"))
	if err != nil {
		return "", err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		s := strings.ReplaceAll(string(b), "v1.2.0", testVersion)
		if filepath.Base(f) == "operations.yaml" {
			s = strings.Replace(s, "templates:\n", "templates:\n"+escapeTemplates, 1)
		}
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(f)), []byte(s), 0o644); err != nil {
			return "", err
		}
	}
	return dst, nil
}

// startController runs the operation-controller for ns until the test ends.
func startController(t *testing.T, ns string) *testenv.Manager {
	t.Helper()
	return testenv.StartManager(t, env, testenv.ManagerOptions{Name: "operation-controller", Namespace: ns},
		func(ctx context.Context, m *testenv.Manager) error {
			return operation.Setup(ctx, m, operation.Options{
				FieldManager:      m.FieldManager(),
				Controller:        m.ControllerOptions(),
				PlatformNamespace: m.Options.PlatformNamespace,
				Plugins:           plugins,
				Retention:         operation.Retention{History: 20},
			})
		})
}

func namespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "op-"}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), ns) })
	return ns.Name
}

// sentinelApp is a two-component Application (redis and sentinel).
func sentinelApp(t *testing.T, ns, name, version string) *plinthv1.Application {
	t.Helper()
	three := int32(3)
	app := &plinthv1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: plinthv1.ApplicationSpec{
			Plugin: "redis", PluginVersion: version, Version: "7.2", Topology: "sentinel",
			Components: []plinthv1.ApplicationComponent{
				{Name: "redis", Replicas: &three, Storage: &plinthv1.StorageSpec{Size: resource.MustParse("1Gi")},
					Resources:  corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}},
					Parameters: map[string]string{"maxmemory": "0"}},
				{Name: "sentinel", Replicas: &three,
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")}}},
			},
		},
	}
	if err := env.Client.Create(context.Background(), app); err != nil {
		t.Fatal(err)
	}
	return app
}

// markReady plays the application-controller: the Application's current
// generation is observed and Ready.
func markReady(t *testing.T, app *plinthv1.Application) {
	t.Helper()
	ctx := context.Background()
	cur := &plinthv1.Application{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(app), cur); err != nil {
		t.Fatal(err)
	}
	cur.Status.ObservedGeneration = cur.Generation
	cur.Status.Phase = plinthv1.ApplicationRunning
	cur.Status.Conditions = []metav1.Condition{{Type: plinthv1.ConditionReady, Status: metav1.ConditionTrue, Reason: plinthv1.ReasonAvailable,
		Message: "test", ObservedGeneration: cur.Generation, LastTransitionTime: metav1.Now()}}
	if err := env.Client.Status().Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
}

func newOperation(t *testing.T, ns, name, target, template string, params map[string]string, mutate ...func(*plinthv1.Operation)) *plinthv1.Operation {
	t.Helper()
	op := &plinthv1.Operation{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       plinthv1.OperationSpec{TargetRef: plinthv1.TargetReference{Name: target}, TemplateRef: template, Parameters: params},
	}
	for _, f := range mutate {
		f(op)
	}
	if err := env.Client.Create(context.Background(), op); err != nil {
		t.Fatal(err)
	}
	return op
}

// waitOp waits until the Operation passes check; it logs its status on
// failure.
func waitOp(t *testing.T, ns, name string, what string, check func(*plinthv1.Operation) bool) *plinthv1.Operation {
	t.Helper()
	op := &plinthv1.Operation{}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, op)
		if err == nil && check(op) {
			return op
		}
		if time.Now().After(deadline) {
			t.Fatalf("Operation %s: %s not reached in 30s (err %v); status: %+v", name, what, err, op.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func phaseIs(p plinthv1.OperationPhase) func(*plinthv1.Operation) bool {
	return func(op *plinthv1.Operation) bool { return op.Status.Phase == p }
}

func stepPhase(op *plinthv1.Operation, name string) plinthv1.StepPhase {
	for _, s := range op.Status.Steps {
		if s.Name == name {
			return s.Phase
		}
	}
	return ""
}

func getApp(t *testing.T, app *plinthv1.Application) *plinthv1.Application {
	t.Helper()
	cur := &plinthv1.Application{}
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(app), cur); err != nil {
		t.Fatal(err)
	}
	return cur
}

func sleep() { time.Sleep(100 * time.Millisecond) }
