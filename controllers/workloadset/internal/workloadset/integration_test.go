package workloadset

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

func TestOrderedCreationNamesAndOwners(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	ws := h.workloadSet("db", 3, withVolume("1Gi"))

	pod0 := h.waitPod("db-0")
	// Ordered: pod 1 is not created while pod 0 is not ready. The condition
	// proves the controller looked after creating pod 0 and chose to wait.
	h.waitStatus("db", "waiting for db-0", func(ws *plinthv1.WorkloadSet) bool {
		c := condition(ws, plinthv1.ConditionProgressing)
		return c != nil && strings.Contains(c.Message, "waiting for pod db-0 to be ready")
	})
	if _, ok := h.pod("db-1"); ok {
		t.Fatal("db-1 was created before db-0 was ready")
	}

	// Names, owner, DNS, labels and the PVC.
	if ref := metav1.GetControllerOf(pod0); ref == nil || ref.UID != ws.UID {
		t.Fatalf("db-0 controller = %+v, want the WorkloadSet", ref)
	}
	if pod0.Spec.Hostname != "db-0" || pod0.Spec.Subdomain != "db-headless" {
		t.Fatalf("db-0 hostname/subdomain = %q/%q", pod0.Spec.Hostname, pod0.Spec.Subdomain)
	}
	for k, v := range map[string]string{plinthv1.LabelWorkloadSet: "db", plinthv1.LabelApplication: "app-db", plinthv1.LabelComponent: "redis", "from-template": "yes", plinthv1.LabelRevision: revision(&ws.Spec.Template)} {
		if pod0.Labels[k] != v {
			t.Errorf("db-0 label %s = %q, want %q", k, pod0.Labels[k], v)
		}
	}
	if len(pod0.Spec.Volumes) != 1 || pod0.Spec.Volumes[0].Name != "data" || pod0.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "data-db-0" {
		t.Fatalf("db-0 volumes = %+v", pod0.Spec.Volumes)
	}
	pvc, ok := h.pvc("data-db-0")
	if !ok || pvc.Labels[plinthv1.LabelWorkloadSet] != "db" || pvc.Spec.Resources.Requests.Storage().String() != "1Gi" {
		t.Fatalf("data-db-0 = %+v (exists %v)", pvc, ok)
	}

	h.markReady("db-0")
	h.waitPod("db-1")
	h.markReady("db-1")
	h.waitPod("db-2")
	h.markReady("db-2")
	got := h.waitStatus("db", "Running", func(ws *plinthv1.WorkloadSet) bool {
		return ws.Status.Phase == plinthv1.ComponentRunning
	})
	if got.Status.Ready != "3/3" || got.Status.ReadyReplicas != 3 || got.Status.UpdatedReplicas != 3 || len(got.Status.Members) != 3 ||
		got.Status.ObservedGeneration != got.Generation || got.Status.UpdateRevision != revision(&ws.Spec.Template) {
		t.Fatalf("status = %+v", got.Status)
	}
	if c := condition(got, plinthv1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("Ready = %+v", c)
	}
}

func TestScaleOutAndInWithPVCRetention(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	parallel := func(when plinthv1.PVCRetentionRule) func(*plinthv1.WorkloadSet) {
		return func(ws *plinthv1.WorkloadSet) {
			withVolume("1Gi")(ws)
			ws.Spec.PodManagementPolicy = plinthv1.ParallelPodManagement
			ws.Spec.PVCRetention = &plinthv1.PVCRetentionPolicy{WhenScaled: when, WhenDeleted: plinthv1.PVCRetain}
		}
	}
	h.workloadSet("del", 1, parallel(plinthv1.PVCDelete))
	h.workloadSet("keep", 1, parallel(plinthv1.PVCRetain))
	for _, name := range []string{"del", "keep"} {
		h.waitPod(name + "-0")
		h.update(name, func(ws *plinthv1.WorkloadSet) { ws.Spec.Replicas = 3 })
		// Parallel: every pod is created without waiting for readiness.
		h.waitPod(name + "-1")
		h.waitPod(name + "-2")
	}
	keepPVC2, _ := h.pvc("data-keep-2")

	for _, name := range []string{"del", "keep"} {
		h.update(name, func(ws *plinthv1.WorkloadSet) { ws.Spec.Replicas = 1 })
		h.eventually(name+" scaled in to 1", func() (bool, string) {
			pods := h.pods(name)
			_, has0 := pods[name+"-0"]
			return len(pods) == 1 && has0, "pods left: " + strings.Join(keys(pods), ",")
		})
	}
	// whenScaled=Delete: the PVCs of removed ordinals are deleted (the
	// protection finalizer keeps them until no pod uses them; envtest has no
	// controller to clear it, so "being deleted" is what we can see).
	for _, name := range []string{"data-del-1", "data-del-2"} {
		h.eventually(name+" deleted", func() (bool, string) {
			pvc, ok := h.pvc(name)
			return !ok || pvc.DeletionTimestamp != nil, "still there"
		})
	}
	if pvc, ok := h.pvc("data-del-0"); !ok || pvc.DeletionTimestamp != nil {
		t.Fatal("data-del-0 of the remaining pod was deleted")
	}
	// whenScaled=Retain keeps them, and scaling out again reuses them.
	for _, name := range []string{"data-keep-1", "data-keep-2"} {
		if pvc, ok := h.pvc(name); !ok || pvc.DeletionTimestamp != nil {
			t.Fatalf("%s was deleted with whenScaled=Retain", name)
		}
	}
	h.update("keep", func(ws *plinthv1.WorkloadSet) { ws.Spec.Replicas = 3 })
	h.assertMounts(h.waitPod("keep-2"), keepPVC2)
}

func TestForeignPVCIsNeverMounted(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	foreign := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data-taken-0", Namespace: h.ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if err := h.c.Create(h.ctx, foreign); err != nil {
		t.Fatal(err)
	}
	h.workloadSet("taken", 1, withVolume("1Gi"))
	h.waitStatus("taken", "the name clash reported", func(ws *plinthv1.WorkloadSet) bool {
		c := condition(ws, plinthv1.ConditionProgressing)
		return c != nil && strings.Contains(c.Message, "PVC data-taken-0 already exists and does not belong to this WorkloadSet")
	})
	if _, ok := h.pod("taken-0"); ok {
		t.Fatal("a pod was created on someone else's PVC")
	}
}

func TestOrderedScaleInRemovesHighestFirst(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	h.workloadSet("o", 3, nil)
	for _, p := range []string{"o-0", "o-1", "o-2"} {
		h.markReady(p)
	}
	h.waitStatus("o", "Running", func(ws *plinthv1.WorkloadSet) bool { return ws.Status.Phase == plinthv1.ComponentRunning })
	h.update("o", func(ws *plinthv1.WorkloadSet) { ws.Spec.Replicas = 2 })
	h.eventually("o-2 gone", func() (bool, string) {
		_, ok := h.pod("o-2")
		return !ok, "o-2 still exists"
	})
	if len(h.pods("o")) != 2 {
		t.Fatalf("pods = %v, want o-0 and o-1", keys(h.pods("o")))
	}
}

func TestDeletedPodComesBackWithTheSamePVC(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	h.workloadSet("r", 1, withVolume("1Gi"))
	old := h.waitPod("r-0")
	pvc, _ := h.pvc("data-r-0")
	if err := h.c.Delete(h.ctx, old); err != nil {
		t.Fatal(err)
	}
	var fresh *corev1.Pod
	h.eventually("r-0 recreated", func() (bool, string) {
		p, ok := h.pod("r-0")
		fresh = p
		return ok && p.UID != old.UID, "not recreated yet"
	})
	h.assertMounts(fresh, pvc)

	// An evicted pod (phase Failed) never runs again: it is replaced too.
	patch := client.MergeFrom(fresh.DeepCopy())
	fresh.Status.Phase, fresh.Status.Reason = corev1.PodFailed, "Evicted"
	if err := h.c.Status().Patch(h.ctx, fresh, patch); err != nil {
		t.Fatal(err)
	}
	h.eventually("evicted r-0 replaced", func() (bool, string) {
		p, ok := h.pod("r-0")
		return ok && p.UID != fresh.UID && p.UID != old.UID, "not replaced yet"
	})
	h.assertMounts(h.waitPod("r-0"), pvc)
}

func TestStatusReportsAreUntrusted(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	roles := func(ws *plinthv1.WorkloadSet) {
		ws.Spec.Roles = []plinthv1.RoleSpec{{Name: "primary", Writable: true, UpdatePriority: 10}, {Name: "replica"}}
	}
	h.workloadSet("s", 1, roles)
	h.markReady("s-0")
	now := time.Now()
	h.report("s-0", "primary", true, now, 5)
	h.eventually("role label primary", func() (bool, string) {
		pod, _ := h.pod("s-0")
		return pod.Labels[plinthv1.LabelRole] == "primary", "label " + pod.Labels[plinthv1.LabelRole]
	})
	ws := h.waitStatus("s", "member primary and Running", func(ws *plinthv1.WorkloadSet) bool {
		m := member(ws, "s-0")
		return m != nil && m.Role == "primary" && m.Healthy && m.LastReportTime != nil && ws.Status.Phase == plinthv1.ComponentRunning
	})
	if ws.Status.RejectedReports != 0 {
		t.Fatalf("rejectedReports = %d before any bad report", ws.Status.RejectedReports)
	}

	bad := []struct{ name, raw string }{
		{"malformed", `{"role": "replica", "healthy": tru`},
		{"oversized", `{"role":"replica","reason":"` + strings.Repeat("x", 5000) + `"}`},
		{"replayed", reportJSON(t, "replica", true, now, 5)},
		{"lower sequence", reportJSON(t, "replica", true, now, 2)},
		{"undeclared role", reportJSON(t, "leader", true, now, 9)},
		{"unknown field", `{"role":"replica","healthy":true,"timestamp":"` + now.UTC().Format(time.RFC3339) + `","sequence":10,"admin":true}`},
		{"stale on arrival", reportJSON(t, "replica", true, now.Add(-time.Hour), 11)},
		{"from the future", reportJSON(t, "replica", true, now.Add(time.Hour), 12)},
	}
	for i, b := range bad {
		h.annotate("s-0", b.raw)
		want := int64(i + 1)
		h.waitStatus("s", b.name+" counted", func(ws *plinthv1.WorkloadSet) bool { return ws.Status.RejectedReports == want })
	}
	pod, _ := h.pod("s-0")
	ws = h.get("s")
	if pod.Labels[plinthv1.LabelRole] != "primary" || member(ws, "s-0").Role != "primary" {
		t.Fatalf("a rejected report changed the role: label %q member %+v", pod.Labels[plinthv1.LabelRole], member(ws, "s-0"))
	}

	// A valid newer report is accepted again.
	h.report("s-0", "replica", false, time.Now(), 13)
	h.eventually("role label replica", func() (bool, string) {
		pod, _ := h.pod("s-0")
		return pod.Labels[plinthv1.LabelRole] == "replica", "label " + pod.Labels[plinthv1.LabelRole]
	})
	ws = h.waitStatus("s", "unhealthy replica makes it Abnormal", func(ws *plinthv1.WorkloadSet) bool {
		m := member(ws, "s-0")
		return m.Role == "replica" && !m.Healthy && ws.Status.Phase == plinthv1.ComponentAbnormal
	})
	if ws.Status.RejectedReports != int64(len(bad)) {
		t.Fatalf("rejectedReports = %d, want %d", ws.Status.RejectedReports, len(bad))
	}
}

// A report going stale makes the member's role unknown in the status (and
// the WorkloadSet not Running), but leaves the pod's role label, which only a
// fresh report changes: the role Services do not lose their endpoint because
// an agent is late.
func TestStaleReportMakesRoleUnknown(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	h.workloadSet("st", 1, func(ws *plinthv1.WorkloadSet) {
		ws.Spec.Roles = []plinthv1.RoleSpec{{Name: "primary", Writable: true}, {Name: "replica"}}
		ws.Spec.HeartbeatSeconds = 5
	})
	h.markReady("st-0")
	h.report("st-0", "primary", true, time.Now(), 1)
	h.eventually("role primary", func() (bool, string) {
		pod, _ := h.pod("st-0")
		return pod.Labels[plinthv1.LabelRole] == "primary", "label " + pod.Labels[plinthv1.LabelRole]
	})
	h.waitStatus("st", "Running", func(ws *plinthv1.WorkloadSet) bool { return ws.Status.Phase == plinthv1.ComponentRunning })
	// No further report: after three heartbeats the controller (woken by its
	// own requeue, no event) marks the member's role unknown.
	ws := h.waitStatus("st", "member unknown", func(ws *plinthv1.WorkloadSet) bool {
		m := member(ws, "st-0")
		return m != nil && m.Role == plinthv1.RoleUnknown && !m.Healthy && ws.Status.Phase != plinthv1.ComponentRunning
	})
	if ws.Status.RejectedReports != 0 {
		t.Fatalf("a report that aged was counted as rejected: %d", ws.Status.RejectedReports)
	}
	if c := condition(ws, plinthv1.ConditionReady); c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "st-0 has no fresh status report") {
		t.Fatalf("Ready condition %+v, want False naming the stale member", c)
	}
	if pod, _ := h.pod("st-0"); pod.Labels[plinthv1.LabelRole] != "primary" {
		t.Fatalf("a stale report changed the role label to %q", pod.Labels[plinthv1.LabelRole])
	}
	// A fresh report changes the label.
	h.report("st-0", "replica", true, time.Now(), 2)
	h.eventually("role replica", func() (bool, string) {
		pod, _ := h.pod("st-0")
		return pod.Labels[plinthv1.LabelRole] == "replica", "label " + pod.Labels[plinthv1.LabelRole]
	})
}

func TestRollingUpdateOneAtATimeByRole(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	roleOf := map[string]string{"u-0": "replica", "u-1": "primary", "u-2": "learner", "u-3": "replica"}
	h.workloadSet("u", 4, func(ws *plinthv1.WorkloadSet) {
		ws.Spec.PodManagementPolicy = plinthv1.ParallelPodManagement
		ws.Spec.Roles = []plinthv1.RoleSpec{
			{Name: "primary", UpdatePriority: 10, Writable: true},
			{Name: "replica", UpdatePriority: 5},
			{Name: "learner", UpdatePriority: 1},
		}
	})
	up := func(name string) {
		h.markReady(name)
		h.report(name, roleOf[name], true, time.Now(), 1)
	}
	for name := range roleOf {
		up(name)
	}
	h.waitStatus("u", "Running", func(ws *plinthv1.WorkloadSet) bool { return ws.Status.Phase == plinthv1.ComponentRunning })

	h.update("u", func(ws *plinthv1.WorkloadSet) {
		ws.Spec.Template.Spec.Containers[0].Image = "docker.io/library/redis:7.4"
	})
	newRev := revision(&h.get("u").Spec.Template)
	var order []string
	for len(order) < 4 {
		// Wait for the next replaced pod; it stays not ready until we say so.
		var replaced string
		before := h.pods("u")
		h.eventually("the next pod to be replaced", func() (bool, string) {
			for name, p := range h.pods("u") {
				if p.Labels[plinthv1.LabelRevision] == newRev && !podReady(p) {
					replaced = name
					return true, ""
				}
			}
			return false, "no new pod yet; replaced so far " + strings.Join(order, ",")
		})
		// The controller sees the new pod and waits for it, touching nothing else.
		h.waitStatus("u", "waiting for "+replaced, func(ws *plinthv1.WorkloadSet) bool {
			c := condition(ws, plinthv1.ConditionProgressing)
			return c != nil && strings.Contains(c.Message, "waiting for updated pod "+replaced)
		})
		for name, p := range h.pods("u") {
			if name != replaced && (p.UID != before[name].UID || !podReady(p)) {
				t.Fatalf("while %s was being replaced, %s was replaced too or is not ready", replaced, name)
			}
		}
		order = append(order, replaced)
		up(replaced)
	}
	if want := "u-2,u-3,u-0,u-1"; strings.Join(order, ",") != want {
		t.Fatalf("update order = %v, want %s (lowest priority first, highest ordinal first, writable last)", order, want)
	}
	ws := h.waitStatus("u", "Running on the new revision", func(ws *plinthv1.WorkloadSet) bool {
		return ws.Status.Phase == plinthv1.ComponentRunning && ws.Status.UpdatedReplicas == 4
	})
	if ws.Status.UpdateRevision != newRev {
		t.Fatalf("updateRevision = %s, want %s", ws.Status.UpdateRevision, newRev)
	}
}

func TestStoppedDeletesPodsKeepsPVCs(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	h.workloadSet("x", 2, func(ws *plinthv1.WorkloadSet) {
		withVolume("1Gi")(ws)
		ws.Spec.PodManagementPolicy = plinthv1.ParallelPodManagement
		ws.Spec.PVCRetention = &plinthv1.PVCRetentionPolicy{WhenScaled: plinthv1.PVCDelete, WhenDeleted: plinthv1.PVCDelete}
	})
	h.waitPod("x-1")
	pvc0, _ := h.pvc("data-x-0")
	h.update("x", func(ws *plinthv1.WorkloadSet) { ws.Spec.Stopped = true })
	h.waitStatus("x", "Stopped", func(ws *plinthv1.WorkloadSet) bool { return ws.Status.Phase == plinthv1.ComponentStopped })
	if n := len(h.pods("x")); n != 0 {
		t.Fatalf("%d pods left after stopping", n)
	}
	for _, name := range []string{"data-x-0", "data-x-1"} {
		if pvc, ok := h.pvc(name); !ok || pvc.DeletionTimestamp != nil {
			t.Fatalf("%s was deleted by stopping (even with whenScaled=Delete it must stay)", name)
		}
	}
	h.update("x", func(ws *plinthv1.WorkloadSet) { ws.Spec.Stopped = false })
	h.assertMounts(h.waitPod("x-0"), pvc0)
	h.waitPod("x-1")
}

func TestDeletionHonoursPVCRetention(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	policy := func(when plinthv1.PVCRetentionRule) func(*plinthv1.WorkloadSet) {
		return func(ws *plinthv1.WorkloadSet) {
			withVolume("1Gi")(ws)
			ws.Spec.PVCRetention = &plinthv1.PVCRetentionPolicy{WhenDeleted: when}
		}
	}
	h.workloadSet("gone", 1, policy(plinthv1.PVCDelete))
	h.workloadSet("kept", 1, policy(plinthv1.PVCRetain))
	h.waitStatus("gone", "finalizer", func(ws *plinthv1.WorkloadSet) bool {
		return len(ws.Finalizers) == 1 && ws.Finalizers[0] == plinthv1.FinalizerWorkloadSetPVCs
	})
	h.waitPod("gone-0")
	h.waitPod("kept-0")
	if fin := h.get("kept").Finalizers; len(fin) != 0 {
		t.Fatalf("kept has finalizers %v; none is needed with whenDeleted=Retain", fin)
	}
	for _, name := range []string{"gone", "kept"} {
		if err := h.c.Delete(h.ctx, h.get(name)); err != nil {
			t.Fatal(err)
		}
		h.eventually(name+" deleted", func() (bool, string) {
			err := h.c.Get(h.ctx, types.NamespacedName{Namespace: h.ns, Name: name}, &plinthv1.WorkloadSet{})
			return err != nil, "still there"
		})
	}
	if pvc, ok := h.pvc("data-gone-0"); ok && pvc.DeletionTimestamp == nil {
		t.Fatal("data-gone-0 survived with whenDeleted=Delete")
	}
	if pvc, ok := h.pvc("data-kept-0"); !ok || pvc.DeletionTimestamp != nil {
		t.Fatal("data-kept-0 was deleted with whenDeleted=Retain")
	}
}

func TestInvalidSpecIsReportedAndCreatesNothing(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	h.workloadSet("bad", 1, func(ws *plinthv1.WorkloadSet) {
		ws.Spec.Roles = []plinthv1.RoleSpec{{Name: "a", Writable: true}, {Name: "b", Writable: true}}
	})
	ws := h.waitStatus("bad", "Ready=False InvalidSpec", func(ws *plinthv1.WorkloadSet) bool {
		c := condition(ws, plinthv1.ConditionReady)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == plinthv1.ReasonInvalidSpec
	})
	if c := condition(ws, plinthv1.ConditionReady); !strings.Contains(c.Message, "2 roles are writable") || ws.Status.Phase != plinthv1.ComponentFailed {
		t.Fatalf("condition %+v phase %s", c, ws.Status.Phase)
	}
	if n := len(h.pods("bad")); n != 0 {
		t.Fatalf("%d pods created for an invalid spec", n)
	}
	h.update("bad", func(ws *plinthv1.WorkloadSet) { ws.Spec.Roles[1].Writable = false })
	h.waitPod("bad-0")
}

func TestVolumeExpansion(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	yes, no := true, false
	suffix := h.ns
	for name, allow := range map[string]*bool{"grow-" + suffix: &yes, "fixed-" + suffix: &no} {
		sc := &storageClass{name: name, allow: allow}
		sc.create(t, h)
	}
	for name, class := range map[string]string{"g": "grow-" + suffix, "f": "fixed-" + suffix} {
		h.workloadSet(name, 1, func(ws *plinthv1.WorkloadSet) {
			ws.Spec.VolumeClaimTemplates = []plinthv1.VolumeClaimTemplate{{Name: "data", Size: resource.MustParse("1Gi"), StorageClassName: &class}}
		})
		h.bindPVC("data-"+name+"-0", "1Gi")
	}
	for _, name := range []string{"g", "f"} {
		h.update(name, func(ws *plinthv1.WorkloadSet) { ws.Spec.VolumeClaimTemplates[0].Size = resource.MustParse("2Gi") })
	}

	h.eventually("data-g-0 requests 2Gi", func() (bool, string) {
		pvc, _ := h.pvc("data-g-0")
		return pvc.Spec.Resources.Requests.Storage().String() == "2Gi", "requests " + pvc.Spec.Resources.Requests.Storage().String()
	})
	h.waitStatus("g", "ExpansionPending", func(ws *plinthv1.WorkloadSet) bool {
		c := condition(ws, plinthv1.ConditionVolumeExpansion)
		return c != nil && c.Reason == plinthv1.ReasonExpansionPending
	})
	h.bindPVC("data-g-0", "2Gi") // the storage side finished
	h.waitStatus("g", "expansion completed", func(ws *plinthv1.WorkloadSet) bool {
		c := condition(ws, plinthv1.ConditionVolumeExpansion)
		return c != nil && c.Status == metav1.ConditionTrue
	})

	ws := h.waitStatus("f", "ExpansionRefused", func(ws *plinthv1.WorkloadSet) bool {
		c := condition(ws, plinthv1.ConditionVolumeExpansion)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == plinthv1.ReasonExpansionRefused
	})
	if c := condition(ws, plinthv1.ConditionVolumeExpansion); !strings.Contains(c.Message, "does not allow volume expansion") {
		t.Fatalf("refusal message %q does not say why", c.Message)
	}
	if pvc, _ := h.pvc("data-f-0"); pvc.Spec.Resources.Requests.Storage().String() != "1Gi" {
		t.Fatalf("data-f-0 was patched to %s despite the refusal", pvc.Spec.Resources.Requests.Storage().String())
	}

	h.update("g", func(ws *plinthv1.WorkloadSet) { ws.Spec.VolumeClaimTemplates[0].Size = resource.MustParse("1Gi") })
	ws = h.waitStatus("g", "shrink refused", func(ws *plinthv1.WorkloadSet) bool {
		c := condition(ws, plinthv1.ConditionVolumeExpansion)
		return c != nil && c.Reason == plinthv1.ReasonExpansionRefused
	})
	if c := condition(ws, plinthv1.ConditionVolumeExpansion); !strings.Contains(c.Message, "shrinking") {
		t.Fatalf("shrink message %q", c.Message)
	}
	if pvc, _ := h.pvc("data-g-0"); pvc.Spec.Resources.Requests.Storage().String() != "2Gi" {
		t.Fatal("the PVC was shrunk")
	}
}

// assertMounts checks that pod mounts exactly the claim pvc (same UID: the
// data survives).
func (h *harness) assertMounts(pod *corev1.Pod, pvc *corev1.PersistentVolumeClaim) {
	h.t.Helper()
	if len(pod.Spec.Volumes) == 0 || pod.Spec.Volumes[0].PersistentVolumeClaim == nil || pod.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != pvc.Name {
		h.t.Fatalf("%s volumes = %+v, want claim %s", pod.Name, pod.Spec.Volumes, pvc.Name)
	}
	if now, ok := h.pvc(pvc.Name); !ok || now.UID != pvc.UID {
		h.t.Fatalf("%s was replaced by a new PVC", pvc.Name)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func reportJSON(t *testing.T, role string, healthy bool, ts time.Time, seq uint64) string {
	t.Helper()
	return report(role, healthy, ts, seq)
}
