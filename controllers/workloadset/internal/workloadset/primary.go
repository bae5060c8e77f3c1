package workloadset

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/skeleton"
)

// designationRecheck: the first designation is written with the status at
// the end of a reconcile, which does not trigger another one (the watch
// ignores status-only changes); pods are created on the next pass.
const designationRecheck = time.Second

// writableRole is the name of the role spec.roles marks writable, or "".
func writableRole(ws *plinthv1.WorkloadSet) string {
	for _, r := range ws.Spec.Roles {
		if r.Writable {
			return r.Name
		}
	}
	return ""
}

// designation is the primary policy's answer.
type designation struct {
	// Primary is the designated member ("" while none can be chosen).
	Primary string
	// Why explains a change, for the log; empty when nothing changed.
	Why string
	// Writers lists the members reporting the writable role, healthy.
	Writers []string
}

// designatePrimary decides which member is the primary, from the current
// designation, the members' latest reports and whether any pod exists.
//
//   - No pod exists and none is designated: ordinal 0 (the bootstrap choice,
//     deterministic, so a controller restarted before the designation was
//     written makes the same one).
//   - The designated member reports the writable role: it stays.
//   - Otherwise exactly one member reporting the writable role, healthy,
//     becomes the primary: the middleware (or an operation) failed over.
//   - Otherwise nothing changes (pods restarting, or several writers: no
//     guess is made).
func designatePrimary(ws *plinthv1.WorkloadSet, members []plinthv1.MemberStatus, podsExist bool) designation {
	writable := writableRole(ws)
	cur := ws.Status.Primary
	var writers []string
	curWrites := false
	for _, m := range members {
		if m.Role == writable && m.Healthy {
			writers = append(writers, m.Name)
			curWrites = curWrites || m.Name == cur
		}
	}
	d := designation{Primary: cur, Writers: writers}
	switch {
	case cur == "" && !podsExist:
		d.Primary = podName(ws, 0)
		d.Why = "bootstrap: no pod exists yet, the first ordinal is designated"
	case curWrites:
	case len(writers) == 1:
		d.Primary = writers[0]
		if cur == "" {
			d.Why = "the only member reporting the writable role is designated"
		} else {
			d.Why = fmt.Sprintf("%s does not report the writable role and %s does (failover)", cur, writers[0])
		}
	}
	return d
}

// designate keeps status.primary and status.initialized, for WorkloadSets
// with a writable role.
func (r *Reconciler) designate(_ context.Context, s *scope) (skeleton.Result, error) {
	st := &s.ws.Status
	writable := writableRole(s.ws)
	if writable == "" {
		st.Primary, st.Initialized = "", false
		return skeleton.Result{}, nil
	}
	d := designatePrimary(s.ws, memberList(s), len(s.pods) > 0)
	if d.Why != "" {
		s.log.Info("designating the primary", "from", st.Primary, "to", d.Primary, "reason", d.Why)
	}
	if st.Primary != "" && d.Primary != "" && d.Primary != st.Primary {
		r.recorder.Eventf(s.ws, nil, corev1.EventTypeNormal, plinthv1.EventReasonSwitchoverFinished, plinthv1.EventActionSwitchover, "the writable role moved from %s to %s", st.Primary, d.Primary)
	}
	st.Primary = d.Primary
	s.writers = d.Writers
	if m, ok := s.members[st.Primary]; ok && m.Role == writable && m.Healthy && !st.Initialized {
		s.log.Info("the designated primary reports the writable role: the WorkloadSet is initialized", "primary", st.Primary)
		st.Initialized = true
	}
	if len(d.Writers) > 1 {
		s.progressing("%d members report role %s (%v); only %s is labelled so", len(d.Writers), writable, d.Writers, st.Primary)
	}
	if st.Primary == "" {
		s.progressing("no primary can be designated yet: waiting for a member to report role %s", writable)
	}
	return skeleton.Result{}, nil
}

// topologyAnnotations are the designation facts every pod carries, or nil
// when the WorkloadSet has no writable role or no designation is persisted.
// Only the persisted designation (s.before) is published, so a pod never
// acts on a choice the API does not hold yet.
func topologyAnnotations(s *scope) map[string]string {
	if writableRole(s.ws) == "" || s.before.Primary == "" {
		return nil
	}
	primary := s.ws.Status.Primary
	if primary == "" {
		primary = s.before.Primary
	}
	return map[string]string{
		plinthv1.AnnotationPrimary:     primary,
		plinthv1.AnnotationPrimaryHost: fmt.Sprintf("%s.%s.%s.svc", primary, s.ws.Spec.ServiceName, s.ws.Namespace),
		plinthv1.AnnotationInitialized: strconv.FormatBool(s.ws.Status.Initialized || s.before.Initialized),
	}
}

// syncTopologyAnnotations patches the designation annotations of pods that
// lack them or carry an old value (metadata only: nothing restarts).
func (r *Reconciler) syncTopologyAnnotations(ctx context.Context, s *scope) (skeleton.Result, error) {
	want := topologyAnnotations(s)
	if want == nil {
		return skeleton.Result{}, nil
	}
	keys := []string{plinthv1.AnnotationPrimary, plinthv1.AnnotationPrimaryHost, plinthv1.AnnotationInitialized}
	for _, n := range sortedOrdinals(s.pods) {
		pod := s.pods[n]
		if pod.DeletionTimestamp != nil || !slices.ContainsFunc(keys, func(k string) bool { return pod.Annotations[k] != want[k] }) {
			continue
		}
		s.log.Info("updating the designation annotations of a pod", "pod", pod.Name, "primary", want[plinthv1.AnnotationPrimary], "initialized", want[plinthv1.AnnotationInitialized])
		patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q,%q:%q,%q:%q}}}`,
			keys[0], want[keys[0]], keys[1], want[keys[1]], keys[2], want[keys[2]])
		if err := r.client.Patch(ctx, pod, client.RawPatch(types.MergePatchType, patch)); err != nil && !apierrors.IsNotFound(err) {
			return skeleton.Result{}, fmt.Errorf("annotating pod %s: %w", pod.Name, err)
		}
	}
	return skeleton.Result{}, nil
}

// roleLabel is the role label pod should carry: the role of its last
// accepted report, except that only the designated primary may carry the
// writable role. A report going stale does not change the label (the
// member's status role becomes unknown): the label follows what the
// middleware says, not the silence of its agent, so that agents running late
// on a busy API server neither move the role Services' selectors nor add a
// pod write per member. An unready pod leaves the Services' endpoints by its
// readiness; a failover moves the designation, and the label with it.
func roleLabel(s *scope, pod *corev1.Pod) string {
	role := s.reports.pods[pod.UID].role
	if role == "" {
		return plinthv1.RoleUnknown
	}
	if w := writableRole(s.ws); w != "" && role == w && pod.Name != s.ws.Status.Primary {
		return plinthv1.RoleUnknown
	}
	return role
}

// roleLabelChange is one pod's role label to patch.
type roleLabelChange struct {
	Pod      *corev1.Pod
	From, To string
}

// orderRoleLabelChanges puts the pods gaining the writable role last: the
// pod losing it is relabelled first, so two pods never carry the writable
// role at once (the read-write Service selects it), even for an instant.
func orderRoleLabelChanges(changes []roleLabelChange, writable string) []roleLabelChange {
	out := slices.Clone(changes)
	slices.SortStableFunc(out, func(a, b roleLabelChange) int {
		ga, gb := writable != "" && a.To == writable, writable != "" && b.To == writable
		switch {
		case ga == gb:
			return 0
		case ga:
			return 1
		}
		return -1
	})
	return out
}

func sortedOrdinals(pods map[int]*corev1.Pod) []int {
	out := make([]int, 0, len(pods))
	for n := range pods {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
