// Package integration tests the plugin registry against a real
// kube-apiserver and etcd (envtest).
package integration_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/testenv"
	"github.com/plinth-io/plinth/pluginregistry"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env)) }

// ns is the namespace the running test keeps its plugin versions in: a fresh
// one per test (freshNamespace), so the tests can run again (-count) against
// the same API server, where namespaces are never removed.
var ns string

// freshNamespace creates a namespace of its own for the calling test.
func freshNamespace(t *testing.T, cs kubernetes.Interface, prefix string) string {
	t.Helper()
	created, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return created.Name
}

// poll calls cond until it returns true or the generous timeout passes.
func poll(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last observation: %s", what, last)
}

func createVersion(t *testing.T, cs kubernetes.Interface, cms []corev1.ConfigMap) {
	t.Helper()
	for i := range cms {
		cm := cms[i].DeepCopy()
		cm.Namespace = ns
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating %s: %v", cm.Name, err)
		}
	}
}

// folderAs loads a plugin folder and renames it to version, optionally
// editing one part's data.
func folderAs(t *testing.T, dir, version string, part pluginregistry.Part, edit func(string) string) []corev1.ConfigMap {
	t.Helper()
	src, err := pluginregistry.FromFolder(dir, ns)
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.ConfigMap
	for _, cm := range src.ConfigMaps {
		p := pluginregistry.Part(cm.Labels[plinthv1.LabelPluginPart])
		data := cm.Data[p.Key()]
		data = strings.ReplaceAll(data, src.Version, version)
		if p == part && edit != nil {
			data = edit(data)
		}
		out = append(out, pluginregistry.NewConfigMap(src.Plugin, version, p, ns, data))
	}
	return out
}

func manifestAnnotation(cs kubernetes.Interface, name string) string {
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return "error: " + err.Error()
	}
	return cm.Annotations[plinthv1.AnnotationPluginValidation]
}

func eventFor(cs kubernetes.Interface, object, reason string) (*corev1.Event, string) {
	sel := fields.Set{"involvedObject.name": object, "reason": reason}.AsSelector().String()
	list, err := cs.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return nil, err.Error()
	}
	if len(list.Items) == 0 {
		return nil, "no event " + reason + " for " + object
	}
	return &list.Items[0], ""
}

func TestRegistryServesWatchesAndReports(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ns = freshNamespace(t, cs, "plinth-registry")
	root := env.Root
	redis10 := filepath.Join(root, "plugins", "redis", "v1.0.0")
	redis11 := filepath.Join(root, "plugins", "redis", "v1.1.0")

	// redis v1.0.0 exists before the registry starts.
	src10, err := pluginregistry.FromFolder(redis10, ns)
	if err != nil {
		t.Fatal(err)
	}
	createVersion(t, cs, src10.ConfigMaps)

	reg, err := pluginregistry.New(cs, pluginregistry.Options{Namespace: ns, Log: testr.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- reg.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("registry stopped with %v", err)
		}
	}()

	// Unknown versions get a clear error, before and after sync.
	if _, err := reg.Get("memcached", "v1.0.0"); !pluginregistry.IsNotFound(err) {
		t.Fatalf("unknown plugin: %v", err)
	}

	poll(t, "redis v1.0.0 to be served", func() (bool, string) {
		_, err := reg.Get("redis", "v1.0.0")
		return err == nil, errString(err)
	})
	pv10, _ := reg.Get("redis", "v1.0.0")
	if pv10.Topology("standalone") == nil || pv10.Hash != src10.ConfigMaps[0].Annotations[pluginregistry.AnnotationContentHash] {
		t.Fatalf("served version is not the published one (hash %s)", pv10.Hash)
	}
	poll(t, "the valid annotation on redis-manifest-v1.0.0", func() (bool, string) {
		a := manifestAnnotation(cs, "redis-manifest-v1.0.0")
		return a == pluginregistry.ValidationValid, a
	})
	poll(t, "the PluginVersionValid Event", func() (bool, string) {
		e, msg := eventFor(cs, "redis-manifest-v1.0.0", pluginregistry.ReasonPluginVersionValid)
		return e != nil, msg
	})

	// v1.1.0 added while running: served without a restart.
	start := time.Now()
	src11, err := pluginregistry.FromFolder(redis11, ns)
	if err != nil {
		t.Fatal(err)
	}
	createVersion(t, cs, src11.ConfigMaps)
	poll(t, "redis v1.1.0 to be served", func() (bool, string) {
		_, err := reg.Get("redis", "v1.1.0")
		return err == nil, errString(err)
	})
	t.Logf("redis v1.1.0 served %v after its ConfigMaps were created", time.Since(start).Round(time.Millisecond))
	if err := reg.CanUpgradePlugin("redis", "v1.0.0", "v1.1.0"); err != nil {
		t.Fatalf("upgrade v1.0.0 -> v1.1.0: %v", err)
	}
	if err := reg.CanUpgradeMiddleware("redis", "v1.1.0", "7.2", "7.4"); err != nil {
		t.Fatalf("middleware 7.2 -> 7.4: %v", err)
	}

	// A broken v9.9.9: reported invalid, the others unaffected.
	broken := folderAs(t, redis11, "v9.9.9", pluginregistry.PartComponents, func(s string) string {
		return strings.Replace(s, "replicas: {min: 1, max: 16, default: 3}", "replicas: {min: 5, max: 2, default: 3}", 1)
	})
	createVersion(t, cs, broken)
	wantReason := "ConfigMap redis-components-v9.9.9, key components.yaml, line 12, path topologies[1].components[0].replicas: min 5 is greater than max 2"
	poll(t, "the invalid annotation on redis-manifest-v9.9.9", func() (bool, string) {
		a := manifestAnnotation(cs, "redis-manifest-v9.9.9")
		return strings.HasPrefix(a, "invalid: ") && strings.Contains(a, wantReason), a
	})
	poll(t, "the PluginVersionInvalid Event", func() (bool, string) {
		e, msg := eventFor(cs, "redis-manifest-v9.9.9", pluginregistry.ReasonPluginVersionInvalid)
		if e == nil {
			return false, msg
		}
		return e.Type == corev1.EventTypeWarning && strings.Contains(e.Message, wantReason), e.Message
	})
	var inv *pluginregistry.InvalidError
	if _, err := reg.Get("redis", "v9.9.9"); !errors.As(err, &inv) {
		t.Fatalf("Get of the broken version: %v", err)
	}
	for _, v := range []string{"v1.0.0", "v1.1.0"} {
		if _, err := reg.Get("redis", v); err != nil {
			t.Fatalf("redis %s was affected by the broken version: %v", v, err)
		}
		if a := manifestAnnotation(cs, "redis-manifest-"+v); a != pluginregistry.ValidationValid {
			t.Fatalf("redis %s annotation %q", v, a)
		}
	}
	if got := strings.Join(reg.Versions("redis"), ","); got != "v1.0.0,v1.1.0" {
		t.Fatalf("valid versions %s", got)
	}

	// Deleting v1.0.0 and recreating it with other content is refused.
	for _, cm := range src10.ConfigMaps {
		if err := cs.CoreV1().ConfigMaps(ns).Delete(ctx, cm.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	poll(t, "redis v1.0.0 to be gone", func() (bool, string) {
		_, err := reg.Get("redis", "v1.0.0")
		return pluginregistry.IsNotFound(err), errString(err)
	})
	changed := folderAs(t, redis10, "v1.0.0", pluginregistry.PartParams, func(s string) string {
		return strings.Replace(s, `default: "16"`, `default: "32"`, 1)
	})
	createVersion(t, cs, withHash(changed))
	poll(t, "the changed v1.0.0 to be refused", func() (bool, string) {
		_, err := reg.Get("redis", "v1.0.0")
		return errors.Is(err, pluginregistry.ErrContentChanged), errString(err)
	})
	poll(t, "the content-changed annotation", func() (bool, string) {
		a := manifestAnnotation(cs, "redis-manifest-v1.0.0")
		return strings.Contains(a, "content changed under the same name"), a
	})
	if _, err := reg.Get("redis", "v1.1.0"); err != nil {
		t.Fatalf("v1.1.0 affected: %v", err)
	}
}

// withHash sets the content-hash annotation as plinth-plugin would.
func withHash(cms []corev1.ConfigMap) []corev1.ConfigMap {
	h := pluginregistry.ContentHash(cms)
	for i := range cms {
		if cms[i].Labels[plinthv1.LabelPluginPart] == string(pluginregistry.PartManifest) {
			cms[i].Annotations = map[string]string{pluginregistry.AnnotationContentHash: h}
		}
	}
	return cms
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// kustomize (the one built into the pinned kubectl) turns
// deploy/kustomize/plugins into immutable ConfigMaps that lint clean and
// carry exactly the content plinth-plugin publishes.
func TestKustomizeBuildsThePluginConfigMaps(t *testing.T) {
	out, err := env.Kubectl(context.Background(), "kustomize", filepath.Join(env.Root, "deploy", "kustomize", "plugins"))
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	srcs, err := pluginregistry.ReadConfigMaps(strings.NewReader(out), "kustomize")
	if err != nil {
		t.Fatal(err)
	}
	folders, err := filepath.Glob(filepath.Join(env.Root, "plugins", "*", "v*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != len(folders) || len(folders) == 0 {
		t.Fatalf("kustomize produced %d plugin versions, want one per folder under plugins/ (%d)", len(srcs), len(folders))
	}
	for _, r := range pluginregistry.Lint(srcs) {
		if r.Err != nil {
			t.Errorf("%s %s: %v", r.Source.Plugin, r.Source.Version, r.Err)
		}
		for _, cm := range r.Source.ConfigMaps {
			if cm.Namespace != pluginregistry.DefaultNamespace || cm.Immutable == nil || !*cm.Immutable {
				t.Errorf("%s: namespace %q immutable %v", cm.Name, cm.Namespace, cm.Immutable)
			}
		}
		folder, err := pluginregistry.FromFolder(filepath.Join(env.Root, "plugins", r.Source.Plugin, r.Source.Version), pluginregistry.DefaultNamespace)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := pluginregistry.ContentHash(folder.ConfigMaps), pluginregistry.ContentHash(r.Source.ConfigMaps); a != b {
			t.Errorf("%s %s: kustomize content %s differs from the folder %s", r.Source.Plugin, r.Source.Version, b, a)
		}
	}
}

// A version whose other ConfigMaps never arrive is reported invalid once
// the grace period for kubectl apply has passed.
func TestIncompleteVersionReportedAfterGrace(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	grace := freshNamespace(t, cs, "plinth-grace")
	reg, err := pluginregistry.New(cs, pluginregistry.Options{Namespace: grace, Log: testr.New(t), IncompleteGrace: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- reg.Start(ctx) }()
	defer func() { cancel(); <-done }()
	src, err := pluginregistry.FromFolder(filepath.Join(env.Root, "plugins", "postgresql", "v1.0.0"), grace)
	if err != nil {
		t.Fatal(err)
	}
	manifest := src.ConfigMaps[0]
	if _, err := cs.CoreV1().ConfigMaps(grace).Create(ctx, &manifest, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "the incomplete version to be reported", func() (bool, string) {
		cm, err := cs.CoreV1().ConfigMaps(grace).Get(ctx, manifest.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		a := cm.Annotations[plinthv1.AnnotationPluginValidation]
		return strings.Contains(a, `path refs.components: ConfigMap "postgresql-components-v1.0.0" does not exist`), a
	})
	var inv *pluginregistry.InvalidError
	if _, err := reg.Get("postgresql", "v1.0.0"); !errors.As(err, &inv) || !inv.Incomplete {
		t.Fatalf("Get: %v", err)
	}
}
