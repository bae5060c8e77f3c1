// Package agent is the loop of plinth-status-agent: every interval it runs
// the probe, turns the output into a report, and publishes it to the Pod at
// once when the role or health changed, otherwise only when the heartbeat is
// due. Publishing failures are retried with an exponential backoff while the
// probe keeps running; a failing probe is a report (healthy=false), never a
// crash.
package agent

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"

	"github.com/plinth-io/plinth/agents/status/internal/evaluate"
	"github.com/plinth-io/plinth/agents/status/internal/probe"
	"github.com/plinth-io/plinth/apis/statusreport"
	"github.com/plinth-io/plinth/runtimeconfig"
)

// Publisher writes a report and returns it as written (with its sequence).
type Publisher interface {
	Publish(ctx context.Context, r statusreport.Report) (statusreport.Report, error)
}

// Options wire an Agent.
type Options struct {
	Probe     *runtimeconfig.Probe
	Publisher Publisher
	// ReportFile, if set, receives every report (JSON), for the other
	// containers of the Pod (the ops agent's Status).
	ReportFile string
	Log        logr.Logger
	// RetryMin and RetryMax bound the backoff after a failed publish
	// (defaults 500ms and 30s).
	RetryMin, RetryMax time.Duration
	// PublishTimeout bounds one publish (default 10s).
	PublishTimeout time.Duration
}

// Agent runs the probe loop.
type Agent struct {
	o    Options
	eval *evaluate.Evaluator

	last      *statusreport.Report
	lastWrite time.Time
	failures  int
	next      time.Time
}

// New makes an Agent.
func New(o Options) (*Agent, error) {
	eval, err := evaluate.New(o.Probe)
	if err != nil {
		return nil, err
	}
	if o.RetryMin == 0 {
		o.RetryMin = 500 * time.Millisecond
	}
	if o.RetryMax == 0 {
		o.RetryMax = 30 * time.Second
	}
	if o.PublishTimeout == 0 {
		o.PublishTimeout = 10 * time.Second
	}
	return &Agent{o: o, eval: eval}, nil
}

// Run probes until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	tick := time.NewTicker(a.o.Probe.Interval.Duration)
	defer tick.Stop()
	for {
		a.Step(ctx, time.Now())
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Step runs the probe once and publishes its report if due.
func (a *Agent) Step(ctx context.Context, now time.Time) {
	p := a.o.Probe
	out, err := probe.Run(ctx, p.Command, p.Env, p.Timeout.Duration)
	if ctx.Err() != nil {
		return
	}
	r := a.eval.Report(out, err)
	r.Timestamp = now.UTC().Truncate(time.Millisecond)
	a.writeFile(r)
	if !a.due(r, now) {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, a.o.PublishTimeout)
	written, err := a.o.Publisher.Publish(pctx, r)
	cancel()
	if err != nil {
		delay := a.o.RetryMin << min(a.failures, 16)
		if delay > a.o.RetryMax || delay <= 0 {
			delay = a.o.RetryMax
		}
		a.failures++
		a.next = now.Add(delay)
		a.o.Log.Error(err, "could not publish the status report; retrying", "retryIn", delay.String(), "failures", a.failures, "role", r.Role, "healthy", r.Healthy)
		return
	}
	changed := a.last == nil || !sameState(*a.last, written)
	if changed {
		a.o.Log.Info("published a new role or health", "role", written.Role, "healthy", written.Healthy, "reason", written.Reason, "sequence", written.Sequence)
	} else {
		a.o.Log.V(1).Info("published a heartbeat", "role", written.Role, "sequence", written.Sequence)
	}
	a.last, a.lastWrite, a.failures, a.next = &written, now, 0, time.Time{}
}

// due: the first report, a change of role or health, or the heartbeat;
// never before the retry backoff has passed.
func (a *Agent) due(r statusreport.Report, now time.Time) bool {
	if now.Before(a.next) {
		return false
	}
	if a.last == nil || !sameState(*a.last, r) {
		return true
	}
	return now.Sub(a.lastWrite) >= a.o.Probe.Heartbeat.Duration
}

func (a *Agent) writeFile(r statusreport.Report) {
	if a.o.ReportFile == "" {
		return
	}
	data, err := json.Marshal(r)
	if err == nil {
		tmp := filepath.Join(filepath.Dir(a.o.ReportFile), "."+filepath.Base(a.o.ReportFile)+".tmp")
		if err = os.WriteFile(tmp, data, 0o644); err == nil {
			err = os.Rename(tmp, a.o.ReportFile)
		}
	}
	if err != nil {
		a.o.Log.Error(err, "could not write the report file", "file", a.o.ReportFile)
	}
}

// sameState says whether two reports agree on role and health: a change is
// written at once, otherwise only as a heartbeat.
func sameState(a, b statusreport.Report) bool { return a.Role == b.Role && a.Healthy == b.Healthy }
