package ctrlmanager

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/plinth-io/plinth/internal/imagerewrite"
	"github.com/plinth-io/plinth/internal/logging"
)

// Defaults shared by every controller.
const (
	DefaultWorkers          = 8
	DefaultReconcileTimeout = 2 * time.Minute
	DefaultQPS              = 20
	DefaultBurst            = 40
	DefaultBackoffBase      = 500 * time.Millisecond
	DefaultBackoffMax       = 5 * time.Minute
)

// Options are the flags every controller binary has.
type Options struct {
	// Name is the controller's name (application-controller, ...): it names
	// the Lease, the field manager and the client's user agent.
	Name string

	MetricsAddr             string
	HealthAddr              string
	PprofAddr               string
	LeaderElect             bool
	LeaderElectionNamespace string
	LeaseDuration           time.Duration
	RenewDeadline           time.Duration
	RetryPeriod             time.Duration

	Workers          int
	ReconcileTimeout time.Duration
	BackoffBase      time.Duration
	BackoffMax       time.Duration
	QPS              float32
	Burst            int

	// WatchNamespace limits the controller to one namespace; empty is all.
	WatchNamespace string
	// PlatformNamespace holds the plugins and the controllers.
	PlatformNamespace string

	// PlinthImage holds procmgr and the agents; middleware pods copy them from it.
	PlinthImage string

	ImageRewrites []string
	Logging       logging.Options
}

// NewOptions returns the defaults for the controller name.
func NewOptions(name string) *Options {
	return &Options{Name: name}
}

// AddFlags registers the flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint; 0 disables it")
	fs.StringVar(&o.HealthAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz endpoints")
	fs.StringVar(&o.PprofAddr, "pprof-bind-address", "", "address of the Go profiler's /debug/pprof endpoints; empty disables them")
	fs.BoolVar(&o.LeaderElect, "leader-elect", true, "run only while holding this controller's Lease, so that several replicas can run for high availability")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the Lease (default: the pod's namespace)")
	fs.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", 15*time.Second, "how long a non-leader waits before taking an unrenewed Lease")
	fs.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", 10*time.Second, "how long the leader keeps trying to renew before giving up")
	fs.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", 2*time.Second, "how often candidates try to take the Lease")
	fs.IntVar(&o.Workers, "workers", DefaultWorkers, "number of objects reconciled in parallel")
	fs.DurationVar(&o.ReconcileTimeout, "reconcile-timeout", DefaultReconcileTimeout, "deadline of one reconcile; longer work is split into requeued steps")
	fs.DurationVar(&o.BackoffBase, "backoff-base", DefaultBackoffBase, "first retry delay of an object whose reconcile failed (doubles each time)")
	fs.DurationVar(&o.BackoffMax, "backoff-max", DefaultBackoffMax, "longest retry delay of a failing object")
	fs.Float32Var(&o.QPS, "kube-api-qps", DefaultQPS, "sustained requests per second to the Kubernetes API")
	fs.IntVar(&o.Burst, "kube-api-burst", DefaultBurst, "burst of requests to the Kubernetes API")
	fs.StringVar(&o.WatchNamespace, "watch-namespace", "", "reconcile objects in this namespace only (default: all namespaces)")
	fs.StringVar(&o.PlatformNamespace, "platform-namespace", "plinth-system", "namespace of the plugin ConfigMaps and of Plinth itself")
	fs.StringVar(&o.PlinthImage, "plinth-image", "ghcr.io/plinth-io/plinth:latest", "image holding plinth-procmgr and the agents, copied into middleware pods by an init container")
	fs.StringSliceVar(&o.ImageRewrites, "image-rewrite", nil, "PREFIX=MIRROR: pull images starting with PREFIX from MIRROR instead (repeatable), e.g. docker.io/library/=registry.local/mirror/")
	o.Logging.AddFlags(fs)
}

// Validate checks the flags and says how to fix them.
func (o *Options) Validate() error {
	var errs []error
	if o.Workers < 1 || o.Workers > 1024 {
		errs = append(errs, fmt.Errorf("--workers=%d: want 1 to 1024", o.Workers))
	}
	if o.ReconcileTimeout < time.Second {
		errs = append(errs, fmt.Errorf("--reconcile-timeout=%s: want at least 1s", o.ReconcileTimeout))
	}
	if o.QPS <= 0 || o.Burst < 1 {
		errs = append(errs, fmt.Errorf("--kube-api-qps=%v --kube-api-burst=%d: both must be positive", o.QPS, o.Burst))
	}
	if o.BackoffBase <= 0 || o.BackoffMax < o.BackoffBase {
		errs = append(errs, fmt.Errorf("--backoff-base=%s --backoff-max=%s: want 0 < base <= max", o.BackoffBase, o.BackoffMax))
	}
	if o.LeaderElect && !(o.LeaseDuration > o.RenewDeadline && o.RenewDeadline > o.RetryPeriod && o.RetryPeriod > 0) {
		errs = append(errs, fmt.Errorf("leader election: want lease duration > renew deadline > retry period > 0"))
	}
	if _, err := imagerewrite.Parse(o.ImageRewrites); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
