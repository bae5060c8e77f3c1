package apis_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

// Every example in examples/ is accepted as written (strict field
// validation: a misspelt field is refused, not pruned), reads back holding
// every field it was written with, typed and without unknown fields, and is
// deleted without anything holding it. The Applications cover every plugin
// and topology, and none needs a StorageClass name or refuses its deletion.
func TestExamplesAreAccepted(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(env.Root, "examples", "*.yaml"))
	if err != nil || len(files) < 9 {
		t.Fatalf("want at least 9 examples, found %d (%v)", len(files), err)
	}
	kinds := map[string]bool{}
	topologies := map[string]string{}
	var applied []*unstructured.Unstructured
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			obj := readExample(t, filepath.Base(f))
			if err := apply(ctx(t), obj, client.FieldValidation("Strict")); err != nil {
				t.Fatalf("apply %s: %v", f, err)
			}
			applied = append(applied, obj)
			kinds[obj.GetKind()] = true
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(obj.GroupVersionKind())
			if err := env.Client.Get(ctx(t), client.ObjectKeyFromObject(obj), got); err != nil {
				t.Fatal(err)
			}
			if got.GetUID() == "" {
				t.Fatal("stored object has no UID")
			}
			for _, p := range missingFrom(got.Object["spec"], obj.Object["spec"], "spec") {
				t.Errorf("the server did not keep %s as written", p)
			}
			typed, err := env.Client.Scheme().New(obj.GroupVersionKind())
			if err != nil {
				t.Fatal(err)
			}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(got.Object, typed, true); err != nil {
				t.Errorf("read back into %T: %v", typed, err)
			}
			for _, p := range fieldPaths(obj.Object, "storageClassName", "") {
				t.Errorf("%s names a StorageClass: examples use the cluster's default", p)
			}
			if len(obj.GetFinalizers()) > 0 {
				t.Errorf("metadata.finalizers %v: an example must not hold its own deletion", obj.GetFinalizers())
			}
			if op, ok := typed.(*plinthv1.Operation); ok {
				for _, p := range operationProblems(t, op) {
					t.Errorf("operation %s: %s", op.Name, p)
				}
			}
			if obj.GetKind() != "Application" {
				return
			}
			app := typed.(*plinthv1.Application)
			if app.Spec.TerminationPolicy == plinthv1.TerminationDoNotTerminate {
				t.Errorf("terminationPolicy %s refuses deletion: an example must be deletable as written", app.Spec.TerminationPolicy)
			}
			for _, p := range planProblems(t, app) {
				t.Errorf("against plugins/%s/%s: %s", app.Spec.Plugin, app.Spec.PluginVersion, p)
			}
			key := app.Spec.Plugin + "/" + app.Spec.Topology
			if other, dup := topologies[key]; dup {
				t.Errorf("%s is also shown by %s: one example per plugin and topology", key, other)
			}
			topologies[key] = filepath.Base(f)
		})
	}
	for _, k := range []string{"Application", "Operation", "Backup", "BackupSchedule"} {
		if !kinds[k] {
			t.Errorf("no example of kind %s", k)
		}
	}
	for _, pt := range []string{"redis/standalone", "redis/replication", "redis/sentinel", "redis/cluster", "postgresql/standalone", "postgresql/replication"} {
		if topologies[pt] == "" {
			t.Errorf("no example Application of %s (have %v)", pt, topologies)
		}
	}

	// The typed client reads what was written, defaults included.
	app := &plinthv1.Application{}
	if err := env.Client.Get(ctx(t), client.ObjectKey{Namespace: "default", Name: "cache"}, app); err != nil {
		t.Fatal(err)
	}
	if app.Spec.Plugin != "redis" || app.Spec.Components[0].Storage.Size.String() != "1Gi" || app.Spec.TerminationPolicy != plinthv1.TerminationDelete {
		t.Fatalf("read back %+v", app.Spec)
	}
	op := &plinthv1.Operation{}
	if err := env.Client.Get(ctx(t), client.ObjectKey{Namespace: "default", Name: "sessions-restart-1"}, op); err != nil {
		t.Fatal(err)
	}
	if op.Spec.TargetRef.APIGroup != "plinth.io" {
		t.Errorf("targetRef.apiGroup default = %q, want plinth.io", op.Spec.TargetRef.APIGroup)
	}

	// Nothing in an example holds its deletion (no controller runs here:
	// what is checked is the objects themselves).
	for _, obj := range applied {
		if err := env.Client.Delete(ctx(t), obj); err != nil {
			t.Fatalf("delete %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
	for _, obj := range applied {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(obj.GroupVersionKind())
		err := env.Client.Get(ctx(t), client.ObjectKeyFromObject(obj), got)
		if !apierrors.IsNotFound(err) {
			t.Errorf("%s %s is still there after its deletion (finalizers %v, %v)", obj.GetKind(), obj.GetName(), got.GetFinalizers(), err)
		}
	}
}

// Invalid objects are refused at admission with a message that says what to fix.
func TestInvalidObjectsAreRejected(t *testing.T) {
	cases := []struct {
		name    string
		example string
		mutate  func(t *testing.T, o *unstructured.Unstructured)
		want    []string
	}{
		{"negative replicas", "redis-standalone.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			setComponentField(t, o, int64(-1), "replicas")
		}, []string{"spec.components[0].replicas", "greater than or equal to 0"}},
		{"replicas over the maximum", "redis-standalone.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			setComponentField(t, o, int64(65), "replicas")
		}, []string{"spec.components[0].replicas", "less than or equal to 64"}},
		{"shards below one", "redis-standalone.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			setComponentField(t, o, int64(0), "shards")
		}, []string{"spec.components[0].shards", "greater than or equal to 1"}},
		{"unknown terminationPolicy", "redis-standalone.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			set(t, o, "Keep", "spec", "terminationPolicy")
		}, []string{"spec.terminationPolicy", `Unsupported value: "Keep"`, `"DoNotTerminate"`, `"WipeOut"`}},
		{"malformed storage size", "redis-standalone.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			setComponentField(t, o, "10Gx", "storage", "size")
		}, []string{"spec.components[0].storage.size"}},
		{"zero storage size", "redis-standalone.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			setComponentField(t, o, "0", "storage", "size")
		}, []string{"storage size must be greater than zero"}},
		{"empty plugin name", "redis-standalone.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			set(t, o, "", "spec", "plugin")
		}, []string{"spec.plugin", "at least 1 chars long"}},
		{"plugin version not semver", "redis-standalone.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			set(t, o, "1.0", "spec", "pluginVersion")
		}, []string{"spec.pluginVersion", "must be a semantic version with a leading v, for example v1.0.0"}},
		{"unknown service type", "redis-standalone.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			set(t, o, "ExternalName", "spec", "service", "type")
		}, []string{"spec.service.type", "Unsupported value"}},
		{"minAvailable and maxUnavailable together", "postgresql-replication.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			set(t, o, int64(1), "spec", "pdb", "minAvailable")
		}, []string{"set at most one of minAvailable and maxUnavailable"}},
		{"malformed cron: words", "backupschedule.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			set(t, o, "every day at 2", "spec", "schedule")
		}, []string{"spec.schedule", "cron expression with five fields"}},
		{"malformed cron: minute out of range", "backupschedule.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			set(t, o, "61 * * * *", "spec", "schedule")
		}, []string{"cron expression with five fields"}},
		{"malformed cron: four fields", "backupschedule.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			set(t, o, "0 2 * *", "spec", "schedule")
		}, []string{"cron expression with five fields"}},
		{"malformed cron in the Application", "postgresql-replication.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			set(t, o, map[string]any{"enabled": true, "schedule": "0 25 * * *",
				"storage": map[string]any{"type": "pvc", "pvc": map[string]any{"claimName": "backups"}}}, "spec", "backup")
		}, []string{"spec.backup.schedule", "cron expression with five fields"}},
		{"storage type without its settings", "backup.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			set(t, o, "s3", "spec", "storage", "type")
		}, []string{"set exactly the storage field named by type"}},
		{"retention maxAge not a duration", "backupschedule.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			set(t, o, "a month", "spec", "retention", "maxAge")
		}, []string{"spec.retention.maxAge", "for example 720h or 30d"}},
		{"resource claims for the sidecars", "redis-standalone.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			setComponentField(t, o, map[string]any{"claims": []any{map[string]any{"name": "gpu"}}}, "sidecarResources")
		}, []string{"spec.components[0].sidecarResources", "sidecarResources cannot name resource claims"}},
		{"operation without template", "operation-restart.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			unstructured.RemoveNestedField(o.Object, "spec", "templateRef")
		}, []string{"spec.templateRef", "Required value"}},
		{"operation on an unsupported kind", "operation-restart.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			set(t, o, "Deployment", "spec", "targetRef", "kind")
		}, []string{"spec.targetRef.kind", "Unsupported value"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := readExample(t, tc.example)
			obj.SetName(fmt.Sprintf("invalid-%d", i))
			tc.mutate(t, obj)
			err := apply(ctx(t), obj)
			if err == nil {
				t.Fatal("accepted, want rejected")
			}
			t.Logf("rejected: %v", err)
			if !apierrors.IsInvalid(err) {
				t.Fatalf("error %v is not an Invalid error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\n does not say %q", err.Error(), w)
				}
			}
		})
	}
}

// Fields that cannot change are refused on update with the reason and the way out.
func TestImmutableFields(t *testing.T) {
	cases := []struct {
		name    string
		example string
		mutate  func(t *testing.T, o *unstructured.Unstructured)
		want    string
	}{
		{"plugin", "redis-standalone.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			set(t, o, "postgresql", "spec", "plugin")
		}, "plugin is immutable: create a new Application to change the middleware"},
		{"topology", "redis-standalone.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			set(t, o, "sentinel", "spec", "topology")
		}, "topology is immutable"},
		{"storage shrink", "redis-standalone.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			setComponentField(t, o, "512Mi", "storage", "size")
		}, "storage size cannot be decreased"},
		{"operation template", "operation-restart.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			set(t, o, "Stop", "spec", "templateRef")
		}, "an Operation cannot be changed once created"},
		{"operation parameters", "operation-restart.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			set(t, o, map[string]any{"component": "sentinel"}, "spec", "parameters")
		}, "an Operation cannot be changed once created"},
		{"backup storage", "backup.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			set(t, o, "other-claim", "spec", "storage", "pvc", "claimName")
		}, "a Backup's application and storage cannot be changed"},
		{"schedule application", "backupschedule.yaml", func(t *testing.T, o *unstructured.Unstructured) {
			set(t, o, "another-db", "spec", "applicationRef", "name")
		}, "applicationRef is immutable"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := readExample(t, tc.example)
			obj.SetName(fmt.Sprintf("immutable-%d", i))
			if err := apply(ctx(t), obj); err != nil {
				t.Fatalf("creating: %v", err)
			}
			changed := readExample(t, tc.example)
			changed.SetName(obj.GetName())
			tc.mutate(t, changed)
			err := apply(ctx(t), changed)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("update error = %v, want it to say %q", err, tc.want)
			}
		})
	}

	// What may change does: growing storage, and cancelling an Operation.
	app := readExample(t, "redis-standalone.yaml")
	app.SetName("grows")
	if err := apply(ctx(t), app); err != nil {
		t.Fatal(err)
	}
	setComponentField(t, app, "2Gi", "storage", "size")
	if err := apply(ctx(t), app); err != nil {
		t.Fatalf("growing storage: %v", err)
	}
	op := readExample(t, "operation-restart.yaml")
	op.SetName("cancelled")
	if err := apply(ctx(t), op); err != nil {
		t.Fatal(err)
	}
	set(t, op, true, "spec", "cancel")
	if err := apply(ctx(t), op); err != nil {
		t.Fatalf("cancelling: %v", err)
	}
	set(t, op, false, "spec", "cancel")
	if err := apply(ctx(t), op); err == nil || !strings.Contains(err.Error(), "cannot be un-cancelled") {
		t.Fatalf("un-cancelling: error = %v", err)
	}
}

// Client-side apply stores the whole object in an annotation limited to
// 256 KiB (anchors item 11): every CRD must fit with room to spare.
func TestCRDsFitClientSideApply(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(env.Root, "deploy", "kustomize", "base", "crds", "*.yaml"))
	if len(files) != 6 {
		t.Fatalf("want 6 CRDs, found %d", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(data, crd); err != nil {
			t.Fatal(err)
		}
		j, _ := json.Marshal(crd)
		if len(j) > 200*1024 {
			t.Errorf("%s is %d bytes as JSON; keep CRDs under 200 KiB so kubectl apply works", filepath.Base(f), len(j))
		}
		names := crd.Spec.Names
		if len(names.ShortNames) == 0 || len(names.Categories) == 0 || names.Categories[0] != "plinth" {
			t.Errorf("%s: want short names and the category plinth, got %v %v", crd.Name, names.ShortNames, names.Categories)
		}
		v := crd.Spec.Versions[0]
		if v.Subresources == nil || v.Subresources.Status == nil {
			t.Errorf("%s has no status subresource", crd.Name)
		}
		if len(v.AdditionalPrinterColumns) < 3 {
			t.Errorf("%s has %d printer columns", crd.Name, len(v.AdditionalPrinterColumns))
		}
	}
}
