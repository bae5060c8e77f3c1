package ctrlmanager

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/imagerewrite"
)

// Scheme returns a scheme with the Kubernetes and Plinth kinds.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := plinthv1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// RestConfig copies cfg with this controller's QPS, burst and user agent, so
// all its API calls go through one client-side rate limiter.
func (o *Options) RestConfig(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = o.QPS
	cfg.Burst = o.Burst
	cfg.UserAgent = "plinth-" + o.Name
	return cfg
}

// New builds the manager: leader election on its own Lease, health and
// readiness probes, metrics, a rate-limited client, and a cache scoped to
// Plinth's objects (CacheOptions).
func (o *Options) New(cfg *rest.Config, scheme *runtime.Scheme) (manager.Manager, error) {
	mo := manager.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress:        o.HealthAddr,
		PprofBindAddress:              o.PprofAddr,
		LeaderElection:                o.LeaderElect,
		LeaderElectionID:              o.Name + ".plinth.io",
		LeaderElectionNamespace:       o.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &o.LeaseDuration,
		RenewDeadline:                 &o.RenewDeadline,
		RetryPeriod:                   &o.RetryPeriod,
		Cache:                         o.CacheOptions(),
	}
	mgr, err := ctrl.NewManager(o.RestConfig(cfg), mo)
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	return mgr, nil
}

// FieldManager is the binary's one server-side-apply identity: every object
// and status it writes is applied under this name.
func (o *Options) FieldManager() string { return "plinth-" + o.Name }

// ControllerOptions are the worker count, per-reconcile deadline
// (controller-runtime's ReconciliationTimeout) and per-object exponential
// backoff every reconciler is registered with.
func (o *Options) ControllerOptions() controller.Options {
	return controller.Options{
		MaxConcurrentReconciles: o.Workers,
		ReconciliationTimeout:   o.ReconcileTimeout,
		RateLimiter: workqueue.NewTypedMaxOfRateLimiter(
			workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](o.BackoffBase, o.BackoffMax),
			// An overall bucket bounds retries of many failing objects at once.
			&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(50), 300)},
		),
	}
}

// ImageRules returns the parsed --image-rewrite rules (Validate has checked
// them), plus the rule that turns the platform image placeholder into
// --plinth-image (itself rewritten).
func (o *Options) ImageRules() imagerewrite.Rules {
	rules, _ := imagerewrite.Parse(o.ImageRewrites)
	if o.PlinthImage == "" {
		return rules
	}
	all, _ := imagerewrite.Parse(append([]string{plinthv1.PlatformImage + "=" + rules.Image(o.PlinthImage)}, o.ImageRewrites...))
	return all
}

// SetupFunc registers a binary's reconcilers with the manager.
type SetupFunc func(ctx context.Context, mgr manager.Manager, o *Options, log logr.Logger) error

// NewCommand builds the root command of a controller binary.
func NewCommand(name, short, long string, setup SetupFunc) *cobra.Command {
	o := NewOptions(name)
	cmd := &cobra.Command{
		Use:   "plinth-" + name,
		Short: short,
		Long:  long,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			log, err := o.Logging.New()
			if err != nil {
				return err
			}
			ctrl.SetLogger(log)
			log = log.WithValues("controller", name)
			cfg, err := ctrl.GetConfig()
			if err != nil {
				return fmt.Errorf("finding the Kubernetes API: %w", err)
			}
			scheme, err := Scheme()
			if err != nil {
				return err
			}
			mgr, err := o.New(cfg, scheme)
			if err != nil {
				return err
			}
			if err := setup(cmd.Context(), mgr, o, log); err != nil {
				return fmt.Errorf("setting up: %w", err)
			}
			log.Info("starting manager", "workers", o.Workers, "reconcileTimeout", o.ReconcileTimeout.String(), "qps", o.QPS, "burst", o.Burst, "leaderElect", o.LeaderElect)
			return mgr.Start(cmd.Context())
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}
