package workloadset

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

func TestDesignatePrimary(t *testing.T) {
	roles := []plinthv1.RoleSpec{{Name: "primary", Writable: true}, {Name: "replica"}}
	m := func(name, role string, healthy bool) plinthv1.MemberStatus {
		return plinthv1.MemberStatus{Name: name, Role: role, Healthy: healthy}
	}
	for _, tc := range []struct {
		name      string
		current   string
		members   []plinthv1.MemberStatus
		podsExist bool
		want      string
		changed   bool
	}{
		{name: "bootstrap picks ordinal 0", want: "db-0", changed: true},
		{name: "pods but no reports: no guess", podsExist: true, members: []plinthv1.MemberStatus{m("db-0", "unknown", false), m("db-1", "unknown", false)}},
		{name: "no designation, one writer is adopted", podsExist: true,
			members: []plinthv1.MemberStatus{m("db-0", "replica", true), m("db-1", "primary", true)}, want: "db-1", changed: true},
		{name: "designated primary writes: kept", current: "db-0", podsExist: true,
			members: []plinthv1.MemberStatus{m("db-0", "primary", true), m("db-1", "replica", true)}, want: "db-0"},
		{name: "designated primary restarting: kept", current: "db-0", podsExist: true,
			members: []plinthv1.MemberStatus{m("db-0", "unknown", false), m("db-1", "replica", true)}, want: "db-0"},
		{name: "middleware failed over: followed", current: "db-0", podsExist: true,
			members: []plinthv1.MemberStatus{m("db-0", "replica", true), m("db-1", "primary", true)}, want: "db-1", changed: true},
		{name: "designated primary gone, another writes: followed", current: "db-0", podsExist: true,
			members: []plinthv1.MemberStatus{m("db-1", "primary", true), m("db-2", "replica", true)}, want: "db-1", changed: true},
		{name: "unhealthy writer is not adopted", current: "db-0", podsExist: true,
			members: []plinthv1.MemberStatus{m("db-0", "unknown", false), m("db-1", "primary", false)}, want: "db-0"},
		{name: "two writers, designated among them: kept", current: "db-0", podsExist: true,
			members: []plinthv1.MemberStatus{m("db-0", "primary", true), m("db-1", "primary", true)}, want: "db-0"},
		{name: "two other writers: no guess", current: "db-0", podsExist: true,
			members: []plinthv1.MemberStatus{m("db-0", "replica", true), m("db-1", "primary", true), m("db-2", "primary", true)}, want: "db-0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := &plinthv1.WorkloadSet{}
			ws.Name = "db"
			ws.Spec.Roles = roles
			ws.Status.Primary = tc.current
			d := designatePrimary(ws, tc.members, tc.podsExist)
			if d.Primary != tc.want || (d.Why != "") != tc.changed {
				t.Fatalf("designatePrimary = %q (why %q), want %q (changed %v)", d.Primary, d.Why, tc.want, tc.changed)
			}
		})
	}
}

func TestOrderRoleLabelChanges(t *testing.T) {
	c := func(pod, from, to string) roleLabelChange {
		p := &corev1.Pod{}
		p.Name = pod
		return roleLabelChange{Pod: p, From: from, To: to}
	}
	names := func(cs []roleLabelChange) string {
		var out []string
		for _, x := range cs {
			out = append(out, x.Pod.Name+":"+x.To)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		name     string
		writable string
		changes  []roleLabelChange
		want     string
	}{
		{name: "nothing to change", writable: "primary"},
		{name: "switchover: the old primary is relabelled first", writable: "primary",
			changes: []roleLabelChange{c("db-0", "replica", "primary"), c("db-1", "primary", "replica")}, want: "db-1:replica,db-0:primary"},
		{name: "already in order", writable: "primary",
			changes: []roleLabelChange{c("db-0", "primary", "unknown"), c("db-2", "unknown", "primary")}, want: "db-0:unknown,db-2:primary"},
		{name: "others keep their order", writable: "primary",
			changes: []roleLabelChange{c("db-0", "", "primary"), c("db-1", "", "replica"), c("db-2", "", "replica")}, want: "db-1:replica,db-2:replica,db-0:primary"},
		{name: "no writable role: unchanged", writable: "",
			changes: []roleLabelChange{c("m-0", "", "member"), c("m-1", "", "member")}, want: "m-0:member,m-1:member"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(orderRoleLabelChanges(tc.changes, tc.writable)); got != tc.want {
				t.Fatalf("order %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDesignatedPrimary: the primary is designated before any pod exists,
// published on every pod, followed when the middleware fails over, never
// labelled twice, and never removed by a scale-in.
func TestDesignatedPrimary(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	h.workloadSet("p", 3, func(ws *plinthv1.WorkloadSet) {
		ws.Spec.PodManagementPolicy = plinthv1.ParallelPodManagement
		ws.Spec.Roles = []plinthv1.RoleSpec{{Name: "primary", Writable: true, UpdatePriority: 1}, {Name: "replica"}}
	})
	annotated := func(primary, initialized string) func() (bool, string) {
		return func() (bool, string) {
			pods := h.pods("p")
			for _, name := range []string{"p-0", "p-1", "p-2"} {
				p, ok := pods[name]
				if !ok {
					return false, name + " missing"
				}
				a := p.Annotations
				if a[plinthv1.AnnotationPrimary] != primary || a[plinthv1.AnnotationInitialized] != initialized ||
					a[plinthv1.AnnotationPrimaryHost] != primary+".p-headless."+h.ns+".svc" {
					return false, name + " annotations " + strings.Join([]string{a[plinthv1.AnnotationPrimary], a[plinthv1.AnnotationPrimaryHost], a[plinthv1.AnnotationInitialized]}, " ")
				}
			}
			return true, ""
		}
	}
	// Pods are created already carrying the bootstrap designation.
	h.eventually("pods annotated with the bootstrap designation", annotated("p-0", "false"))
	if ws := h.get("p"); ws.Status.Primary != "p-0" || ws.Status.Initialized {
		t.Fatalf("status primary=%q initialized=%v, want p-0 false", ws.Status.Primary, ws.Status.Initialized)
	}
	now := time.Now()
	for name, role := range map[string]string{"p-0": "primary", "p-1": "replica", "p-2": "replica"} {
		h.markReady(name)
		h.report(name, role, true, now, 1)
	}
	h.waitStatus("p", "Running and initialized", func(ws *plinthv1.WorkloadSet) bool {
		return ws.Status.Phase == plinthv1.ComponentRunning && ws.Status.Initialized
	})
	h.eventually("initialized published", annotated("p-0", "true"))

	// A second pod claims the writable role: it is not labelled primary and
	// the WorkloadSet says why.
	h.report("p-2", "primary", true, time.Now(), 2)
	h.waitStatus("p", "MultiplePrimaries", func(ws *plinthv1.WorkloadSet) bool {
		c := condition(ws, plinthv1.ConditionReady)
		return c != nil && c.Reason == plinthv1.ReasonMultiplePrimaries
	})
	h.eventually("role labels", func() (bool, string) {
		pods := h.pods("p")
		got := []string{pods["p-0"].Labels[plinthv1.LabelRole], pods["p-2"].Labels[plinthv1.LabelRole]}
		return slices.Equal(got, []string{"primary", plinthv1.RoleUnknown}), strings.Join(got, ",")
	})

	// The middleware demotes p-0: p-2 becomes the designated primary,
	// everywhere.
	h.report("p-0", "replica", true, time.Now(), 2)
	h.eventually("designation follows the middleware", annotated("p-2", "true"))
	ws := h.waitStatus("p", "Running with p-2", func(ws *plinthv1.WorkloadSet) bool {
		return ws.Status.Primary == "p-2" && ws.Status.Phase == plinthv1.ComponentRunning
	})
	if pods := h.pods("p"); pods["p-2"].Labels[plinthv1.LabelRole] != "primary" {
		t.Fatalf("p-2 role label %q, want primary", pods["p-2"].Labels[plinthv1.LabelRole])
	}

	// Scaling in to one pod removes p-1 but never the primary p-2.
	h.update("p", func(ws *plinthv1.WorkloadSet) { ws.Spec.Replicas = 1 })
	h.eventually("p-1 removed", func() (bool, string) {
		_, ok := h.pods("p")["p-1"]
		return !ok, "p-1 still there"
	})
	h.waitStatus("p", "scale-in blocked at the primary", func(ws *plinthv1.WorkloadSet) bool {
		c := condition(ws, plinthv1.ConditionProgressing)
		return c != nil && strings.Contains(c.Message, "not removing pod p-2")
	})
	p2 := h.pods("p")["p-2"]
	if p2 == nil || p2.DeletionTimestamp != nil || p2.UID != ws.Status.Members[2].PodUID {
		t.Fatalf("the primary p-2 was removed by a scale-in")
	}
}

func TestSwitchoverCandidate(t *testing.T) {
	ws := &plinthv1.WorkloadSet{}
	ws.Name = "db"
	ws.Spec.Roles = []plinthv1.RoleSpec{{Name: "primary", Writable: true}, {Name: "replica"}}
	m := func(name, role string, ready, healthy, updated bool) plinthv1.MemberStatus {
		return plinthv1.MemberStatus{Name: name, Role: role, Ready: ready, Healthy: healthy, Updated: updated}
	}
	for _, tc := range []struct {
		name    string
		members []plinthv1.MemberStatus
		want    string
	}{
		{"updated replica first", []plinthv1.MemberStatus{m("db-0", "primary", true, true, false), m("db-1", "replica", true, true, false), m("db-2", "replica", true, true, true)}, "db-2"},
		{"lowest ordinal among equals", []plinthv1.MemberStatus{m("db-0", "primary", true, true, false), m("db-1", "replica", true, true, true), m("db-2", "replica", true, true, true)}, "db-1"},
		{"not ready, unhealthy or unknown replicas are skipped", []plinthv1.MemberStatus{m("db-0", "primary", true, true, false), m("db-1", "replica", false, true, true), m("db-2", "replica", true, false, true), m("db-3", "unknown", true, true, true)}, ""},
		{"another primary is no candidate", []plinthv1.MemberStatus{m("db-0", "primary", true, true, false), m("db-1", "primary", true, true, true)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := switchoverCandidate(ws, "db-0", tc.members); got != tc.want {
				t.Fatalf("candidate = %q, want %q", got, tc.want)
			}
		})
	}
}
