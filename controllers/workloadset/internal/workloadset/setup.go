package workloadset

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/imagerewrite"
	"github.com/plinth-io/plinth/internal/skeleton"
	"github.com/plinth-io/plinth/internal/ssa"
)

// Options wire the workloadset reconciler into a manager.
type Options struct {
	// FieldManager is the binary's one server-side-apply identity
	// (ctrlmanager.Options.FieldManager()): the status is applied under it.
	// Required.
	FieldManager string
	// Controller sets workers, backoff and the per-reconcile deadline
	// (ctrlmanager.Options.ControllerOptions()). ReconciliationTimeout is
	// required: every reconcile runs under a deadline.
	Controller controller.Options
	// ImageRules rewrite pod images (air-gapped mirrors). They are applied
	// after the revision is computed, so changing them restarts nothing.
	ImageRules imagerewrite.Rules
	// Switchover, optional, moves the writable role away before a rolling
	// update replaces its pod.
	Switchover Switchover
	// Intercept, when set, wraps the reconciler. Only tests set it, to make
	// one object hang or fail.
	Intercept func(reconcile.Reconciler) reconcile.Reconciler
}

// validate names the first missing dependency.
func (o Options) validate() error {
	switch {
	case o.FieldManager == "":
		return errors.New("workloadset controller: Options.FieldManager is required (ctrlmanager.Options.FieldManager())")
	case o.Controller.ReconciliationTimeout <= 0:
		return errors.New("workloadset controller: Options.Controller.ReconciliationTimeout is required (ctrlmanager.Options.ControllerOptions())")
	}
	return nil
}

// Setup validates o, then registers the workloadset reconciler with mgr: it
// watches WorkloadSets, the Pods they control and the PVCs labelled with
// their name.
func Setup(_ context.Context, mgr manager.Manager, o Options) error {
	if err := o.validate(); err != nil {
		return err
	}
	r := &Reconciler{
		client:     mgr.GetClient(),
		apiReader:  mgr.GetAPIReader(),
		status:     ssa.Applier{Client: mgr.GetClient(), FieldManager: o.FieldManager},
		images:     o.ImageRules,
		switchover: o.Switchover,
		recorder:   mgr.GetEventRecorder(o.FieldManager),
		now:        time.Now,
		reports:    newReportBook(),
	}
	r.pass = r.controller()
	var rec reconcile.Reconciler = r
	if o.Intercept != nil {
		rec = o.Intercept(rec)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("workloadset").
		For(&plinthv1.WorkloadSet{}, builder.WithPredicates(skeleton.IgnoreStatusOnly())).
		Owns(&corev1.Pod{}).
		Watches(&corev1.PersistentVolumeClaim{}, handler.EnqueueRequestsFromMapFunc(pvcToWorkloadSet)).
		WithOptions(o.Controller).
		Complete(rec)
}
