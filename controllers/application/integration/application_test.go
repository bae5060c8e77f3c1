package integration

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/conditions"
	"github.com/plinth-io/plinth/internal/ssa"
)

// A valid standalone Redis Application gets its Component, its credentials
// (once) and a status that follows the Component's.
func TestStandaloneRedis(t *testing.T) {
	ns := newNamespace(t)
	startController(t, ns, controllerOptions{})
	app := redisApp(ns, "cache", func(a *plinthv1.Application) {
		a.Spec.Components = []plinthv1.ApplicationComponent{{Name: "redis", Parameters: map[string]string{"maxmemory": "100mb"}}}
	})
	if err := env.Client.Create(ctx(t), app); err != nil {
		t.Fatal(err)
	}

	comp := waitForComponent(t, ns, "cache-redis", nil)
	if !metav1.IsControlledBy(comp, app) {
		t.Errorf("Component owner references %+v", comp.OwnerReferences)
	}
	for k, v := range map[string]string{plinthv1.LabelApplication: "cache", plinthv1.LabelComponent: "cache-redis", plinthv1.LabelManagedBy: "plinth"} {
		if comp.Labels[k] != v {
			t.Errorf("label %s=%q, want %q", k, comp.Labels[k], v)
		}
	}
	s := comp.Spec
	if s.Application != "cache" || s.Plugin != "redis" || s.PluginVersion != "v1.0.0" || s.Version != "7.2" || s.Topology != "standalone" ||
		s.ComponentDef != "redis" || s.Image != "docker.io/library/redis:7.2" || s.Replicas != 1 || s.Shards != 1 ||
		s.CredentialsSecret != "cache-credentials" || s.Storage == nil || s.Storage.Size.String() != "1Gi" ||
		s.Parameters["maxmemory"] != "100mb" || s.Parameters["appendonly"] != "yes" ||
		s.PVCRetention == nil || s.PVCRetention.WhenDeleted != plinthv1.PVCRetain || s.Stopped {
		t.Errorf("Component spec %+v", s)
	}

	secret := &corev1.Secret{}
	if err := env.Client.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: "cache-credentials"}, secret); err != nil {
		t.Fatal(err)
	}
	if !metav1.IsControlledBy(secret, app) {
		t.Errorf("Secret owner references %+v", secret.OwnerReferences)
	}
	password := secret.Data["password"]
	if len(password) < 16 || len(secret.Data["replication-password"]) < 16 || len(secret.Data["username"]) == 0 {
		t.Fatalf("Secret keys %v", keys(secret.Data))
	}

	got := waitForPhase(t, ns, "cache", plinthv1.ApplicationCreating)
	if !conditions.IsTrue(got.Status.Conditions, plinthv1.ConditionValid) || !conditions.IsFalse(got.Status.Conditions, plinthv1.ConditionReady) {
		t.Errorf("conditions %+v", got.Status.Conditions)
	}
	// Nothing runs yet: no running versions.
	if got.Status.CredentialsSecret != "cache-credentials" || got.Status.PluginVersion != "" || got.Status.Version != "" || got.Status.Ready != "0/1" {
		t.Errorf("status %+v", got.Status)
	}
	if !hasEndpoint(got, "cache-redis", 6379) || !hasEndpoint(got, "cache-redis-primary", 6379) {
		t.Errorf("endpoints %+v", got.Status.Endpoints)
	}
	if !controllerHasFinalizer(got) {
		t.Errorf("finalizers %v", got.Finalizers)
	}

	// The test plays the component-controller.
	setComponentStatus(t, ns, "cache-redis", plinthv1.ComponentRunning, 1)
	got = waitForPhase(t, ns, "cache", plinthv1.ApplicationRunning)
	if got.Status.Ready != "1/1" || !conditions.IsTrue(got.Status.Conditions, plinthv1.ConditionReady) ||
		got.Status.PluginVersion != "v1.0.0" || got.Status.Version != "7.2" {
		t.Errorf("running status %+v", got.Status)
	}
	if len(got.Status.Components) != 1 || got.Status.Components[0].Name != "cache-redis" || got.Status.Components[0].ReadyReplicas != 1 {
		t.Errorf("component summaries %+v", got.Status.Components)
	}

	// A parameter change updates the Component and the Application is
	// Updating until the component-controller has rolled it out.
	patchApp(t, ns, "cache", func(a *plinthv1.Application) { a.Spec.Components[0].Parameters["maxmemory"] = "200mb" })
	waitForComponent(t, ns, "cache-redis", func(c *plinthv1.Component) error {
		if c.Spec.Parameters["maxmemory"] != "200mb" {
			return fmt.Errorf("maxmemory %q", c.Spec.Parameters["maxmemory"])
		}
		return nil
	})
	waitForPhase(t, ns, "cache", plinthv1.ApplicationUpdating)
	setComponentStatus(t, ns, "cache-redis", plinthv1.ComponentRunning, 1)
	waitForPhase(t, ns, "cache", plinthv1.ApplicationRunning)

	// A Component someone else changed is put back, although the
	// application-controller skips applies the cache shows it needs not make.
	comp = waitForComponent(t, ns, "cache-redis", nil)
	if comp.Annotations[ssa.AnnotationDesiredHash] == "" {
		t.Errorf("Component has no %s annotation: %v", ssa.AnnotationDesiredHash, comp.Annotations)
	}
	tamper := []byte(`{"spec":{"parameters":{"maxmemory":"1mb"}}}`)
	if err := env.Client.Patch(ctx(t), comp, client.RawPatch(types.MergePatchType, tamper), client.FieldOwner("someone-else")); err != nil {
		t.Fatal(err)
	}
	waitForComponent(t, ns, "cache-redis", func(c *plinthv1.Component) error {
		if c.Spec.Parameters["maxmemory"] != "200mb" {
			return fmt.Errorf("maxmemory %q", c.Spec.Parameters["maxmemory"])
		}
		return nil
	})

	// Further reconciles never regenerate the passwords.
	if err := env.Client.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: "cache-credentials"}, secret); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(secret.Data["password"], password) {
		t.Error("the password changed after further reconciles")
	}
	// Secrets never reach the status.
	got = getApp(t, ns, "cache")
	if strings.Contains(fmt.Sprintf("%+v", got.Status), string(password)) {
		t.Error("the password appears in the Application status")
	}
}

// Invalid Applications end Ready=False with a precise message, and nothing
// is created for them.
func TestInvalidApplicationsCreateNothing(t *testing.T) {
	ns := newNamespace(t)
	startController(t, ns, controllerOptions{})
	tests := []struct {
		name   string
		mutate func(*plinthv1.Application)
		reason string
		want   []string
	}{
		{"unknown-plugin-version", func(a *plinthv1.Application) { a.Spec.PluginVersion = "v9.9.9" },
			plinthv1.ReasonPluginNotFound, []string{"plugin redis version v9.9.9 is not installed", "installed versions of redis: v1.0.0"}},
		{"replicas-out-of-range", func(a *plinthv1.Application) {
			a.Spec.Components = []plinthv1.ApplicationComponent{{Name: "redis", Replicas: ptr.To[int32](3)}}
		}, plinthv1.ReasonInvalidComponents, []string{"spec.components[redis].replicas 3 is out of range", "exactly 1"}},
		{"parameter-violates-constraint", func(a *plinthv1.Application) {
			a.Spec.Components = []plinthv1.ApplicationComponent{{Name: "redis", Parameters: map[string]string{"timeout": "100000"}}}
		}, plinthv1.ReasonInvalidParameters, []string{"timeout", `"100000" violates the constraint >=0 & <=86400`}},
		{"unsupported-version", func(a *plinthv1.Application) { a.Spec.Version = "6.2" },
			plinthv1.ReasonUnsupportedVersion, []string{`spec.version "6.2" is not supported by plugin redis v1.0.0`, "7.0, 7.2, 7.4, 8.0"}},
		{"unknown-component", func(a *plinthv1.Application) {
			a.Spec.Components = []plinthv1.ApplicationComponent{{Name: "proxy"}}
		}, plinthv1.ReasonInvalidComponents, []string{`has no component "proxy"`}},
	}
	for _, tt := range tests {
		if err := env.Client.Create(ctx(t), redisApp(ns, tt.name, tt.mutate)); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := waitForCondition(t, ns, tt.name, plinthv1.ConditionReady, metav1.ConditionFalse, tt.reason)
			ready := conditions.Get(app.Status.Conditions, plinthv1.ConditionReady)
			for _, w := range tt.want {
				if !strings.Contains(ready.Message, w) {
					t.Errorf("message lacks %q: %s", w, ready.Message)
				}
			}
			if app.Status.Phase != plinthv1.ApplicationFailed || !conditions.IsFalse(app.Status.Conditions, plinthv1.ConditionValid) {
				t.Errorf("phase %s, conditions %+v", app.Status.Phase, app.Status.Conditions)
			}
			if comps := componentsOf(t, ns, tt.name); len(comps) != 0 {
				t.Errorf("%d Components created for an invalid Application", len(comps))
			}
			if secretExists(t, ns, tt.name+"-credentials") {
				t.Error("credentials Secret created for an invalid Application")
			}
		})
	}
}

// An Application that becomes invalid keeps its Components as they were.
func TestInvalidUpdateLeavesComponentsUntouched(t *testing.T) {
	ns := newNamespace(t)
	startController(t, ns, controllerOptions{})
	if err := env.Client.Create(ctx(t), redisApp(ns, "cache")); err != nil {
		t.Fatal(err)
	}
	before := waitForComponent(t, ns, "cache-redis", nil)
	patchApp(t, ns, "cache", func(a *plinthv1.Application) {
		a.Spec.Components = []plinthv1.ApplicationComponent{{Name: "redis", Parameters: map[string]string{"maxmemory": "a lot"}}}
	})
	waitForCondition(t, ns, "cache", plinthv1.ConditionReady, metav1.ConditionFalse, plinthv1.ReasonInvalidParameters)
	after := waitForComponent(t, ns, "cache-redis", nil)
	if after.Generation != before.Generation || after.Spec.Parameters["maxmemory"] != before.Spec.Parameters["maxmemory"] {
		t.Errorf("Component changed: generation %d -> %d, maxmemory %q -> %q", before.Generation, after.Generation, before.Spec.Parameters["maxmemory"], after.Spec.Parameters["maxmemory"])
	}
}

// A plugin version installed after the Application lets it converge,
// without restarting anything.
func TestPluginInstalledLater(t *testing.T) {
	ns := newNamespace(t)
	startController(t, ns, controllerOptions{})
	if err := env.Client.Create(ctx(t), redisApp(ns, "later", func(a *plinthv1.Application) { a.Spec.PluginVersion = "v1.1.0" })); err != nil {
		t.Fatal(err)
	}
	waitForCondition(t, ns, "later", plinthv1.ConditionReady, metav1.ConditionFalse, plinthv1.ReasonPluginNotFound)

	if err := installPlugin(ctx(t), "redis", "v1.1.0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // uninstall, so the test can run again (-count)
		if err := env.Client.DeleteAllOf(ctx(t), &corev1.ConfigMap{}, client.InNamespace(platformNamespace),
			client.MatchingLabels{plinthv1.LabelPlugin: "redis", plinthv1.LabelPluginVersion: "v1.1.0"}); err != nil {
			t.Error(err)
		}
	})
	waitForComponent(t, ns, "later-redis", func(c *plinthv1.Component) error {
		if c.Spec.PluginVersion != "v1.1.0" {
			return fmt.Errorf("pluginVersion %s", c.Spec.PluginVersion)
		}
		return nil
	})
	waitForCondition(t, ns, "later", plinthv1.ConditionValid, metav1.ConditionTrue, plinthv1.ReasonValidated)
}

// DoNotTerminate blocks deletion with a condition saying how to proceed;
// switching to Delete lets the deletion finish.
func TestDoNotTerminate(t *testing.T) {
	ns := newNamespace(t)
	startController(t, ns, controllerOptions{})
	if err := env.Client.Create(ctx(t), redisApp(ns, "keep", func(a *plinthv1.Application) { a.Spec.TerminationPolicy = plinthv1.TerminationDoNotTerminate })); err != nil {
		t.Fatal(err)
	}
	waitForComponent(t, ns, "keep-redis", nil)
	eventually(t, "the finalizer", func() error {
		if !controllerHasFinalizer(getApp(t, ns, "keep")) {
			return fmt.Errorf("no finalizer yet")
		}
		return nil
	})
	if err := env.Client.Delete(ctx(t), redisApp(ns, "keep")); err != nil {
		t.Fatal(err)
	}
	app := waitForCondition(t, ns, "keep", plinthv1.ConditionDeletionBlocked, metav1.ConditionTrue, plinthv1.ReasonDoNotTerminate)
	msg := conditions.Get(app.Status.Conditions, plinthv1.ConditionDeletionBlocked).Message
	if !strings.Contains(msg, "set spec.terminationPolicy to Delete") || !strings.Contains(msg, "WipeOut") {
		t.Errorf("message does not say how to proceed: %s", msg)
	}
	if app.DeletionTimestamp.IsZero() || !controllerHasFinalizer(app) {
		t.Fatalf("want a deleting Application held by the finalizer: %+v", app.ObjectMeta)
	}

	patchApp(t, ns, "keep", func(a *plinthv1.Application) { a.Spec.TerminationPolicy = plinthv1.TerminationDelete })
	waitGone(t, ns, "keep")
}

// WipeOut deletes the Application's PVCs (and only those); Delete keeps them.
func TestTerminationPolicyAndPVCs(t *testing.T) {
	ns := newNamespace(t)
	startController(t, ns, controllerOptions{})
	for _, a := range []*plinthv1.Application{
		redisApp(ns, "wiped", func(a *plinthv1.Application) { a.Spec.TerminationPolicy = plinthv1.TerminationWipeOut }),
		redisApp(ns, "kept", func(a *plinthv1.Application) { a.Spec.TerminationPolicy = plinthv1.TerminationDelete }),
	} {
		if err := env.Client.Create(ctx(t), a); err != nil {
			t.Fatal(err)
		}
	}
	wiped := waitForComponent(t, ns, "wiped-redis", nil)
	if wiped.Spec.PVCRetention.WhenDeleted != plinthv1.PVCDelete {
		t.Errorf("WipeOut: Component pvcRetention %+v", wiped.Spec.PVCRetention)
	}
	kept := waitForComponent(t, ns, "kept-redis", nil)
	if kept.Spec.PVCRetention.WhenDeleted != plinthv1.PVCRetain {
		t.Errorf("Delete: Component pvcRetention %+v", kept.Spec.PVCRetention)
	}
	// The PVCs the workloadset-controller would have made.
	for _, p := range [][2]string{{"data-wiped-redis-0", "wiped"}, {"data-kept-redis-0", "kept"}, {"unrelated", ""}} {
		pvc := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: p[0], Namespace: ns},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			},
		}
		if p[1] != "" {
			pvc.Labels = map[string]string{plinthv1.LabelApplication: p[1]}
		}
		if err := env.Client.Create(ctx(t), pvc); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"wiped", "kept"} {
		eventually(t, "finalizer on "+name, func() error {
			if !controllerHasFinalizer(getApp(t, ns, name)) {
				return fmt.Errorf("no finalizer yet")
			}
			return nil
		})
		if err := env.Client.Delete(ctx(t), redisApp(ns, name)); err != nil {
			t.Fatal(err)
		}
		waitGone(t, ns, name)
	}

	// No kube-controller-manager runs here, so a PVC may keep its protection
	// finalizer: being deleted is what counts.
	if !pvcDeletedOrGone(t, ns, "data-wiped-redis-0") {
		t.Error("WipeOut left the Application's PVC")
	}
	if pvcDeletedOrGone(t, ns, "data-kept-redis-0") {
		t.Error("Delete removed the Application's PVC")
	}
	if pvcDeletedOrGone(t, ns, "unrelated") {
		t.Error("WipeOut removed a PVC of no Application")
	}
}

// stopped propagates to the Components and the phase follows.
func TestStopped(t *testing.T) {
	ns := newNamespace(t)
	startController(t, ns, controllerOptions{})
	if err := env.Client.Create(ctx(t), redisApp(ns, "nap")); err != nil {
		t.Fatal(err)
	}
	waitForComponent(t, ns, "nap-redis", nil)
	setComponentStatus(t, ns, "nap-redis", plinthv1.ComponentRunning, 1)
	waitForPhase(t, ns, "nap", plinthv1.ApplicationRunning)

	patchApp(t, ns, "nap", func(a *plinthv1.Application) { a.Spec.Stopped = true })
	waitForComponent(t, ns, "nap-redis", func(c *plinthv1.Component) error {
		if !c.Spec.Stopped {
			return fmt.Errorf("not stopped")
		}
		return nil
	})
	waitForPhase(t, ns, "nap", plinthv1.ApplicationStopping)
	setComponentStatus(t, ns, "nap-redis", plinthv1.ComponentStopped, 0)
	app := waitForPhase(t, ns, "nap", plinthv1.ApplicationStopped)
	if r := conditions.Get(app.Status.Conditions, plinthv1.ConditionReady); r == nil || r.Reason != plinthv1.ReasonStopped {
		t.Errorf("Ready condition %+v", r)
	}

	patchApp(t, ns, "nap", func(a *plinthv1.Application) { a.Spec.Stopped = false })
	waitForComponent(t, ns, "nap-redis", func(c *plinthv1.Component) error {
		if c.Spec.Stopped {
			return fmt.Errorf("still stopped")
		}
		return nil
	})
	waitForPhase(t, ns, "nap", plinthv1.ApplicationUpdating)
	setComponentStatus(t, ns, "nap-redis", plinthv1.ComponentRunning, 1)
	waitForPhase(t, ns, "nap", plinthv1.ApplicationRunning)
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func hasEndpoint(app *plinthv1.Application, service string, port int32) bool {
	for _, e := range app.Status.Endpoints {
		if e.Service == service && e.Port == port {
			return true
		}
	}
	return false
}

func controllerHasFinalizer(app *plinthv1.Application) bool {
	for _, f := range app.Finalizers {
		if f == plinthv1.FinalizerApplication {
			return true
		}
	}
	return false
}

func waitGone(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, name+" to be deleted", func() error {
		err := env.Client.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: name}, &plinthv1.Application{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("still there")
	})
}

func pvcDeletedOrGone(t *testing.T, ns, name string) bool {
	t.Helper()
	pvc := &corev1.PersistentVolumeClaim{}
	err := env.Client.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: name}, pvc)
	if apierrors.IsNotFound(err) {
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return !pvc.DeletionTimestamp.IsZero()
}

// The finalizer can be removed by hand as docs/finalizers.md says, when no
// controller runs.
func TestFinalizerRemovableByHand(t *testing.T) {
	ns := newNamespace(t) // no controller runs for this namespace
	app := redisApp(ns, "orphan", func(a *plinthv1.Application) {
		a.Finalizers = []string{plinthv1.FinalizerApplication}
		a.Spec.TerminationPolicy = plinthv1.TerminationDoNotTerminate
	})
	if err := env.Client.Create(ctx(t), app); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(ctx(t), app); err != nil {
		t.Fatal(err)
	}
	if got := getApp(t, ns, "orphan"); got.DeletionTimestamp.IsZero() {
		t.Fatal("the finalizer did not hold the Application")
	}
	out, err := env.Kubectl(ctx(t), "patch", "applications.plinth.io", "orphan", "-n", ns, "--type", "json",
		"-p", `[{"op":"remove","path":"/metadata/finalizers"}]`)
	if err != nil {
		t.Fatalf("kubectl: %v: %s", err, out)
	}
	waitGone(t, ns, "orphan")
}

// A middleware version change the plugin does not allow is refused with
// UpgradeNotAllowed, and the running Component keeps its version.
func TestUpgradeNotAllowed(t *testing.T) {
	ns := newNamespace(t)
	startController(t, ns, controllerOptions{})
	app := &plinthv1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec:       plinthv1.ApplicationSpec{Plugin: "postgresql", PluginVersion: "v1.0.0", Version: "16", Topology: "standalone"},
	}
	if err := env.Client.Create(ctx(t), app); err != nil {
		t.Fatal(err)
	}
	before := waitForComponent(t, ns, "db-postgresql", nil)
	if before.Spec.Image != "docker.io/library/postgres:16" || before.Spec.Storage.Size.String() != "5Gi" {
		t.Errorf("Component spec %+v", before.Spec)
	}
	waitForPhase(t, ns, "db", plinthv1.ApplicationCreating)

	patchApp(t, ns, "db", func(a *plinthv1.Application) { a.Spec.Version = "17" })
	got := waitForCondition(t, ns, "db", plinthv1.ConditionReady, metav1.ConditionFalse, plinthv1.ReasonUpgradeNotAllowed)
	if msg := conditions.Get(got.Status.Conditions, plinthv1.ConditionReady).Message; !strings.Contains(msg, "cannot change from 16 to 17") || !strings.Contains(msg, "set it back to 16") {
		t.Errorf("message %q", msg)
	}
	// Nothing ran yet, so no version is reported running; the refusal
	// starts from the version already handed to the Component.
	if got.Status.Version != "" {
		t.Errorf("status.version %q, want none (the Application never ran)", got.Status.Version)
	}
	after := waitForComponent(t, ns, "db-postgresql", nil)
	if after.Spec.Version != "16" || after.Spec.Image != before.Spec.Image || after.Generation != before.Generation {
		t.Errorf("the Component changed: version %s image %s generation %d -> %d", after.Spec.Version, after.Spec.Image, before.Generation, after.Generation)
	}

	// Setting it back makes the Application valid again.
	patchApp(t, ns, "db", func(a *plinthv1.Application) { a.Spec.Version = "16" })
	waitForCondition(t, ns, "db", plinthv1.ConditionValid, metav1.ConditionTrue, plinthv1.ReasonValidated)
}
