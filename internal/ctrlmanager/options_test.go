package ctrlmanager

import (
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
