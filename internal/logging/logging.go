package logging

import (
	"fmt"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Options are the logging flags.
type Options struct {
	// Level is debug, info, warn or error.
	Level string
	// Format is json (default, for log collectors) or console (for people).
	Format string
}

// AddFlags registers the logging flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Level, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.Format, "log-format", "json", "log format: json or console")
}

// New builds a logger writing to stderr.
func (o Options) New() (logr.Logger, error) {
	var level zapcore.Level
	if err := level.UnmarshalText([]byte(o.Level)); err != nil {
		return logr.Discard(), fmt.Errorf("--log-level %q: want debug, info, warn or error", o.Level)
	}
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(level)
	cfg.Sampling = nil
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	switch o.Format {
	case "json":
	case "console":
		cfg.Encoding = "console"
		cfg.EncoderConfig.EncodeLevel = zapcore.CapitalLevelEncoder
	default:
		return logr.Discard(), fmt.Errorf("--log-format %q: want json or console", o.Format)
	}
	z, err := cfg.Build()
	if err != nil {
		return logr.Discard(), err
	}
	return zapr.NewLogger(z), nil
}
