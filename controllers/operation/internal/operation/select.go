package operation

import (
	"slices"
	"strconv"
	"strings"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

// member is one pod of a component as the WorkloadSets report it.
type member struct {
	plinthv1.MemberStatus
	// WorkloadSet and its headless Service (the pod's DNS subdomain).
	WorkloadSet, Service string
	// Writable: the member reports the WorkloadSet's writable role.
	Writable bool
	// Primary: the member is the WorkloadSet's designated primary.
	Primary bool
}

// membersOf lists the members of wss, shard by shard, in ordinal order.
func membersOf(wss []plinthv1.WorkloadSet) []member {
	var out []member
	sorted := slices.Clone(wss)
	slices.SortFunc(sorted, func(a, b plinthv1.WorkloadSet) int { return strings.Compare(a.Name, b.Name) })
	for _, ws := range sorted {
		writable := ""
		for _, r := range ws.Spec.Roles {
			if r.Writable {
				writable = r.Name
			}
		}
		ms := slices.Clone(ws.Status.Members)
		slices.SortFunc(ms, func(a, b plinthv1.MemberStatus) int { return ordinal(a.Name) - ordinal(b.Name) })
		for _, m := range ms {
			out = append(out, member{
				MemberStatus: m, WorkloadSet: ws.Name, Service: ws.Spec.ServiceName,
				Writable: writable != "" && m.Role == writable,
				Primary:  ws.Status.Primary != "" && ws.Status.Primary == m.Name,
			})
		}
	}
	return out
}

// ordinal is the number after a pod name's last dash (-1 when none).
func ordinal(pod string) int {
	i := strings.LastIndexByte(pod, '-')
	n, err := strconv.Atoi(pod[i+1:])
	if i < 0 || err != nil {
		return -1
	}
	return n
}

// selectPods picks the pods a grpc step calls: the members with the
// selector's role (any role when empty), minus those excluded (called by an
// earlier step), replicas first and the designated primary (or the member
// reporting the writable role) last, each group in shard and ordinal order.
// policy "one" keeps the first.
func selectPods(members []member, role string, exclude map[string]bool, policy string) []member {
	var replicas, primaries []member
	for _, m := range members {
		if exclude[m.Name] || (role != "" && m.Role != role) {
			continue
		}
		if m.Primary || m.Writable {
			primaries = append(primaries, m)
		} else {
			replicas = append(replicas, m)
		}
	}
	out := append(replicas, primaries...)
	if policy == "one" && len(out) > 1 {
		out = out[:1]
	}
	return out
}

// switchoverCandidate picks the member of ws to promote: the named one, or
// the first ready, healthy member that reports a declared non-writable role
// (lowest ordinal). The status reports carry no replication offset yet, so
// "most advanced" is not judged here: the plugin's switchover action waits
// for the candidate to catch up (Redis FAILOVER TO, PostgreSQL's promote
// after the old primary's shutdown checkpoint). "" when there is none.
func switchoverCandidate(members []member, ws string) string {
	for _, m := range members {
		if m.WorkloadSet != ws || m.Primary || m.Writable || !m.Ready || !m.Healthy || m.Role == "" || m.Role == "unknown" {
			continue
		}
		return m.Name
	}
	return ""
}
