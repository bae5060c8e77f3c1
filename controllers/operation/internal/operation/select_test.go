package operation

import (
	"testing"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

func ws(name string, primary string, members ...plinthv1.MemberStatus) plinthv1.WorkloadSet {
	w := plinthv1.WorkloadSet{}
	w.Name = name
	w.Spec.ServiceName = "svc"
	w.Spec.Roles = []plinthv1.RoleSpec{{Name: "primary", Writable: true}, {Name: "replica"}}
	w.Status.Primary = primary
	w.Status.Members = members
	return w
}

func m(name, role string, ready bool) plinthv1.MemberStatus {
	return plinthv1.MemberStatus{Name: name, Role: role, Ready: ready, Healthy: ready}
}

func names(ms []member) []string {
	var out []string
	for _, x := range ms {
		out = append(out, x.Name)
	}
	return out
}

func TestSelectPods(t *testing.T) {
	set := []plinthv1.WorkloadSet{ws("a-redis", "a-redis-1", m("a-redis-10", "replica", true), m("a-redis-1", "primary", true), m("a-redis-2", "replica", true), m("a-redis-0", "replica", false))}
	cases := []struct {
		name, role, policy string
		exclude            []string
		want               []string
	}{
		{"every pod, replicas in ordinal order, the primary last", "", "all", nil, []string{"a-redis-0", "a-redis-2", "a-redis-10", "a-redis-1"}},
		{"replicas only", "replica", "one-at-a-time", nil, []string{"a-redis-0", "a-redis-2", "a-redis-10"}},
		{"the primary only", "primary", "all", nil, []string{"a-redis-1"}},
		{"one", "replica", "one", nil, []string{"a-redis-0"}},
		{"what earlier steps did not call", "", "one-at-a-time", []string{"a-redis-0", "a-redis-2", "a-redis-10"}, []string{"a-redis-1"}},
		{"an unknown role selects nothing", "leader", "all", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ex := map[string]bool{}
			for _, e := range tc.exclude {
				ex[e] = true
			}
			got := names(selectPods(membersOf(set), tc.role, ex, tc.policy))
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestSwitchoverCandidate(t *testing.T) {
	set := []plinthv1.WorkloadSet{
		ws("c-redis-0", "c-redis-0-0", m("c-redis-0-0", "primary", true), m("c-redis-0-1", "replica", false), m("c-redis-0-2", "replica", true)),
		ws("c-redis-1", "c-redis-1-0", m("c-redis-1-0", "primary", true), m("c-redis-1-1", "unknown", true)),
	}
	ms := membersOf(set)
	if got := switchoverCandidate(ms, "c-redis-0"); got != "c-redis-0-2" {
		t.Fatalf("shard 0: got %q, want the ready replica c-redis-0-2", got)
	}
	if got := switchoverCandidate(ms, "c-redis-1"); got != "" {
		t.Fatalf("shard 1: got %q, want none (the only other member's role is unknown)", got)
	}
}
