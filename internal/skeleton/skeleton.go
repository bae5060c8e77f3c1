package skeleton

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Result is what one phase asks of the pass.
type Result struct {
	// RequeueAfter asks for another pass after this long; the shortest
	// request of all phases that ran wins.
	RequeueAfter time.Duration
	// Stop ends the pass after this phase: later phases do not run.
	Stop bool
	// Judged, with Stop, says the phase reached a verdict on the whole spec
	// (a spec found invalid, a deletion carried out): the pass counts as
	// complete, so the status may claim the object's generation. A Stop
	// without Judged (waiting for something before the rest of the spec can
	// be acted on) leaves observedGeneration where it was.
	Judged bool
}

// Requeue is the Result of a phase that only asks for another pass.
func Requeue(after time.Duration) Result { return Result{RequeueAfter: after} }

// StopJudged is the Result of a phase that reached a verdict on the whole
// spec and ends the pass.
func StopJudged() Result { return Result{Stop: true, Judged: true} }

// StopWaiting is the Result of a phase that ends the pass before the rest of
// the spec was acted on; after > 0 asks for another pass then.
func StopWaiting(after time.Duration) Result { return Result{Stop: true, RequeueAfter: after} }

// Invalid is what a phase returns for a spec no retry will fix (a user
// error): a verdict on the whole spec (the pass counts as complete, so
// observedGeneration moves) and a reconcile.TerminalError, so the object is
// not retried until it changes. The phase sets the False condition saying
// why before it returns.
func Invalid(err error) (Result, error) { return StopJudged(), reconcile.TerminalError(err) }

// Phase is one small step of a pass. S is the controller's scope type.
type Phase[S any] struct {
	// Name names the phase in logs and in Outcome.StoppedAt.
	Name string
	// Run does the step. An error ends the pass (a reconcile.TerminalError
	// is not retried); Result says whether to stop and when to come back.
	Run func(ctx context.Context, s S) (Result, error)
}

// Outcome is how a pass went; the status write is given it.
type Outcome struct {
	// RequeueAfter is the shortest requeue any phase asked for.
	RequeueAfter time.Duration
	// Err is the error that ended the pass, if any.
	Err error
	// Complete says the pass acted on the whole spec: every phase ran
	// without error, or one stopped with a verdict (Result.Judged; with a
	// reconcile.TerminalError when the verdict is an invalid spec, see
	// Invalid).
	// observedGeneration may move to the object's generation only then.
	Complete bool
	// StoppedAt names the phase that stopped the pass or failed ("" when
	// every phase ran).
	StoppedAt string
}

// Run runs phases in order on s until one stops or fails.
func Run[S any](ctx context.Context, s S, phases []Phase[S]) Outcome {
	var o Outcome
	for _, p := range phases {
		res, err := p.Run(ctx, s)
		o.RequeueAfter = shortest(o.RequeueAfter, res.RequeueAfter)
		if err != nil {
			o.Err = annotateDeadline(ctx, fmt.Errorf("%s: %w", p.Name, err))
			o.StoppedAt = p.Name
			// Only a verdict (Invalid) completes a pass that ends in an error.
			o.Complete = res.Stop && res.Judged && errors.Is(err, reconcile.TerminalError(nil))
			return o
		}
		if res.Stop {
			o.StoppedAt = p.Name
			o.Complete = res.Judged
			return o
		}
	}
	o.Complete = true
	return o
}

func shortest(a, b time.Duration) time.Duration {
	switch {
	case b <= 0:
		return a
	case a <= 0 || b < a:
		return b
	default:
		return a
	}
}

// annotateDeadline says so when an error comes from the reconcile running
// past its deadline (controller-runtime's ReconciliationTimeout, set from
// --reconcile-timeout), keeping the error chain.
func annotateDeadline(ctx context.Context, err error) error {
	if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() == nil {
		return err
	}
	return fmt.Errorf("the reconcile ran past its deadline (--reconcile-timeout); longer work must be split into steps that requeue: %w", err)
}

// Controller is one reconciler's parts. T is the reconciled kind (a pointer
// type such as *v1alpha1.Component), S the pass's scope.
type Controller[T client.Object, S any] struct {
	// Client reads the object (usually the manager's cache).
	Client client.Client
	// New returns an empty T to read into.
	New func() T
	// Gone, optional, is called when the object no longer exists (to drop
	// in-memory bookkeeping).
	Gone func(key types.NamespacedName)
	// Scope builds the pass's scope from the object read. An error ends the
	// reconcile before any phase and without a status write.
	Scope func(ctx context.Context, obj T) (S, error)
	// Phases run in order.
	Phases []Phase[S]
	// WriteStatus writes the status once, after the phases, whatever they
	// did. It sets observedGeneration only when o.Complete. Its error joins
	// the pass's error.
	WriteStatus func(ctx context.Context, s S, o Outcome) error
}

// Reconcile implements reconcile.Reconciler.
func (c *Controller[T, S]) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	obj := c.New()
	if err := c.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) && c.Gone != nil {
			c.Gone(req.NamespacedName)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	s, err := c.Scope(ctx, obj)
	if err != nil {
		return reconcile.Result{}, err
	}
	o := Run(ctx, s, c.Phases)
	if o.Err != nil && !errors.Is(o.Err, reconcile.TerminalError(nil)) {
		ctrl.LoggerFrom(ctx).V(1).Info("pass ended by an error; status is written and the object retried with backoff", "phase", o.StoppedAt, "error", o.Err.Error())
	}
	err = o.Err
	if werr := c.WriteStatus(ctx, s, o); werr != nil {
		err = errors.Join(err, fmt.Errorf("writing status: %w", werr))
	}
	if err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{RequeueAfter: o.RequeueAfter}, nil
}
