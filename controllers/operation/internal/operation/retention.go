package operation

import (
	"context"
	"fmt"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/skeleton"
)

// Retention says how long finished Operations stay.
type Retention struct {
	// History keeps the last History finished Operations per target
	// (0 keeps all).
	History int
	// MaxAge deletes finished Operations this long after they ended (0
	// keeps them).
	MaxAge time.Duration
}

// maxRetentionRecheck caps how long a finished Operation waits for its
// next retention check.
const maxRetentionRecheck = time.Hour

// expiry is when a finished Operation goes: ttlSecondsAfterFinished after
// its end when set, else MaxAge after it; now when History newer finished
// Operations of its target exist. Zero means never.
func (ret Retention) expiry(op *plinthv1.Operation, newer int, now time.Time) time.Time {
	end := op.CreationTimestamp.Time
	if op.Status.CompletionTime != nil {
		end = op.Status.CompletionTime.Time
	}
	if ttl := op.Spec.TTLSecondsAfterFinished; ttl != nil {
		return end.Add(time.Duration(*ttl) * time.Second)
	}
	if ret.History > 0 && newer >= ret.History {
		return now
	}
	if ret.MaxAge > 0 {
		return end.Add(ret.MaxAge)
	}
	return time.Time{}
}

// retain ends the pass of a finished Operation: it is deleted once expired,
// else looked at again then.
func (r *Reconciler) retain(ctx context.Context, s *scope) (skeleton.Result, error) {
	if !finished(s.op) {
		return skeleton.Result{}, nil
	}
	newer := 0
	if r.retention.History > 0 && s.op.Spec.TTLSecondsAfterFinished == nil {
		var list plinthv1.OperationList
		if err := r.client.List(ctx, &list, client.InNamespace(s.op.Namespace), client.MatchingFields{targetIndex: s.op.Spec.TargetRef.Name}); err != nil {
			return skeleton.Result{}, fmt.Errorf("listing the Operations on %s: %w", s.op.Spec.TargetRef.Name, err)
		}
		newer = newerFinished(s.op, list.Items)
	}
	exp := r.retention.expiry(s.op, newer, s.now)
	if exp.IsZero() {
		return skeleton.StopJudged(), nil
	}
	if wait := exp.Sub(s.now); wait > 0 {
		return skeleton.Result{Stop: true, Judged: true, RequeueAfter: min(wait, maxRetentionRecheck)}, nil
	}
	s.log.Info("deleting a finished Operation (retention)", "completed", s.op.Status.CompletionTime, "newerOnTarget", newer)
	if err := r.client.Delete(ctx, s.op, &client.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr(s.op.UID)}}); err != nil && !apierrors.IsNotFound(err) {
		return skeleton.Result{}, fmt.Errorf("deleting the expired Operation: %w", err)
	}
	s.deleted = true
	return skeleton.StopJudged(), nil
}

// newerFinished counts the finished Operations on op's target that ended
// after it (by completion time, then name).
func newerFinished(op *plinthv1.Operation, all []plinthv1.Operation) int {
	var done []plinthv1.Operation
	for _, o := range all {
		if finished(&o) && o.Spec.TargetRef.Name == op.Spec.TargetRef.Name {
			done = append(done, o)
		}
	}
	end := func(o *plinthv1.Operation) time.Time {
		if o.Status.CompletionTime != nil {
			return o.Status.CompletionTime.Time
		}
		return o.CreationTimestamp.Time
	}
	sort.Slice(done, func(i, j int) bool {
		a, b := end(&done[i]), end(&done[j])
		if !a.Equal(b) {
			return a.After(b)
		}
		return done[i].Name > done[j].Name
	})
	for i := range done {
		if done[i].UID == op.UID {
			return i
		}
	}
	return 0
}
