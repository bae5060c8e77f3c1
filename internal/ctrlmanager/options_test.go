package ctrlmanager

import (
	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestValidate(t *testing.T) {
	defaults := func() *Options {
		o := NewOptions("test-controller")
		o.AddFlags(pflag.NewFlagSet("t", pflag.ContinueOnError))
		return o
	}
	if err := defaults().Validate(); err != nil {
		t.Fatalf("defaults are invalid: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Options)
		want   string
	}{
		{"no workers", func(o *Options) { o.Workers = 0 }, "--workers=0: want 1 to 1024"},
		{"tiny deadline", func(o *Options) { o.ReconcileTimeout = time.Millisecond }, "--reconcile-timeout=1ms"},
		{"no qps", func(o *Options) { o.QPS = 0 }, "both must be positive"},
		{"backoff inverted", func(o *Options) { o.BackoffMax = time.Millisecond }, "want 0 < base <= max"},
		{"lease shorter than renew", func(o *Options) { o.LeaseDuration = 5 * time.Second }, "lease duration > renew deadline"},
		{"bad image rewrite", func(o *Options) { o.ImageRewrites = []string{"docker.io/library/"} }, "want PREFIX=MIRROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := defaults()
			tc.mutate(o)
			err := o.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

// The platform placeholder becomes --plinth-image, itself mirrored by the
// rewrite rules; official middleware images are mirrored as usual.
func TestImageRulesResolveThePlatformPlaceholder(t *testing.T) {
	o := NewOptions("workloadset-controller")
	o.PlinthImage = "ghcr.io/plinth-io/plinth:v0.2.0"
	o.ImageRewrites = []string{"docker.io/library/=mirror.local/lib/", "ghcr.io/plinth-io/=mirror.local/plinth/"}
	rules := o.ImageRules()
	for in, want := range map[string]string{
		plinthv1.PlatformImage:        "mirror.local/plinth/plinth:v0.2.0",
		"docker.io/library/redis:7.2": "mirror.local/lib/redis:7.2",
		"quay.io/other/thing:1":       "quay.io/other/thing:1",
	} {
		if got := rules.Image(in); got != want {
			t.Errorf("Image(%q) = %q, want %q", in, got, want)
		}
	}
}
