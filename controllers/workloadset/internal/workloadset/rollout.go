package workloadset

import (
	"cmp"
	"fmt"
	"slices"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

// updateCandidate is what the rolling-update policy knows about one member.
type updateCandidate struct {
	Name      string
	Ordinal   int
	Role      string
	Updated   bool
	Available bool
}

// updateDecision is the policy's answer: replace Pod now, or wait (Wait says
// for what), or nothing is left to update (both empty).
type updateDecision struct {
	Pod  string
	Wait string
}

// nextPodToUpdate picks the one pod to replace next in a rolling update.
//
//   - Nothing happens while an updated pod is not available: one pod at a
//     time, each ready and healthy before the next.
//   - An outdated pod that is not available goes first: replacing it costs no
//     availability and may be what repairs it.
//   - Otherwise outdated pods go by role: roles the WorkloadSet does not
//     declare (and unknown) first, then by updatePriority (lowest first), the
//     writable role last; within a role, the highest ordinal first.
func nextPodToUpdate(members []updateCandidate, roles []plinthv1.RoleSpec) updateDecision {
	var outdated []updateCandidate
	for _, m := range members {
		if m.Updated && !m.Available {
			return updateDecision{Wait: fmt.Sprintf("waiting for updated pod %s to become ready and healthy", m.Name)}
		}
		if !m.Updated {
			outdated = append(outdated, m)
		}
	}
	if len(outdated) == 0 {
		return updateDecision{}
	}
	slices.SortFunc(outdated, func(a, b updateCandidate) int {
		if a.Available != b.Available {
			if !a.Available {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(roleRank(roles, a.Role), roleRank(roles, b.Role)); c != 0 {
			return c
		}
		if c := cmp.Compare(rolePriority(roles, a.Role), rolePriority(roles, b.Role)); c != 0 {
			return c
		}
		return cmp.Compare(b.Ordinal, a.Ordinal)
	})
	return updateDecision{Pod: outdated[0].Name}
}

// roleRank orders undeclared roles (0) before declared ones (1) before the
// writable role (2).
func roleRank(roles []plinthv1.RoleSpec, name string) int {
	r := roleSpec(roles, name)
	switch {
	case r == nil:
		return 0
	case r.Writable:
		return 2
	default:
		return 1
	}
}

func rolePriority(roles []plinthv1.RoleSpec, name string) int32 {
	if r := roleSpec(roles, name); r != nil {
		return r.UpdatePriority
	}
	return 0
}
