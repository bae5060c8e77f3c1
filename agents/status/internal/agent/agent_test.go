package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	"github.com/plinth-io/plinth/apis/statusreport"
	"github.com/plinth-io/plinth/runtimeconfig"
)

// recorder is a Publisher that keeps what it is given and fails on demand.
type recorder struct {
	seq  uint64
	got  []statusreport.Report
	fail bool
}

func (r *recorder) Publish(_ context.Context, rep statusreport.Report) (statusreport.Report, error) {
	if r.fail {
		return rep, errors.New("API server unavailable")
	}
	r.seq++
	rep.Sequence = r.seq
	r.got = append(r.got, rep)
	return rep, nil
}

// fileProbe is a probe that prints the role written in a file, or fails
// when the file holds "fail".
func fileProbe(t *testing.T) (*runtimeconfig.Probe, func(string)) {
	path := filepath.Join(t.TempDir(), "role")
	set := func(role string) {
		if err := os.WriteFile(path, []byte(role), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	set("master")
	p, err := runtimeconfig.ParseProbe([]byte(fmt.Sprintf(`
command: [sh, -c, 'r=$(cat %s); [ "$r" != fail ] || { echo "connection refused" >&2; exit 1; }; echo "role:$r"']
parser: keyvalue
interval: 1s
heartbeat: 30s
`, path)))
	if err != nil {
		t.Fatal(err)
	}
	return p, set
}

func TestWritesOnChangeAndOnHeartbeatOnly(t *testing.T) {
	p, set := fileProbe(t)
	rec := &recorder{}
	report := filepath.Join(t.TempDir(), "report.json")
	a, err := New(Options{Probe: p, Publisher: rec, Log: testr.New(t), ReportFile: report})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.Now()
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

	a.Step(ctx, at(0)) // first report
	a.Step(ctx, at(1)) // same: no write
	a.Step(ctx, at(2))
	if len(rec.got) != 1 || rec.got[0].Role != "master" || !rec.got[0].Healthy {
		t.Fatalf("after 3 steps without change: %+v", rec.got)
	}
	set("slave")
	a.Step(ctx, at(3)) // role changed: immediately
	if len(rec.got) != 2 || rec.got[1].Role != "slave" {
		t.Fatalf("role change not written at once: %+v", rec.got)
	}
	a.Step(ctx, at(32)) // 29s later: not yet
	a.Step(ctx, at(33)) // 30s: heartbeat
	if len(rec.got) != 3 || rec.got[2].Role != "slave" {
		t.Fatalf("heartbeat: %+v", rec.got)
	}
	set("fail")
	a.Step(ctx, at(34)) // probe fails: health changed, written, no crash
	last := rec.got[len(rec.got)-1]
	if len(rec.got) != 4 || last.Healthy || last.Role != statusreport.RoleUnknown || !strings.Contains(last.Reason, "connection refused") {
		t.Fatalf("probe failure: %+v", rec.got)
	}
	for i := 1; i < len(rec.got); i++ {
		if rec.got[i].Sequence <= rec.got[i-1].Sequence || !rec.got[i].Timestamp.After(rec.got[i-1].Timestamp) {
			t.Errorf("report %d does not follow %d: %+v", i, i-1, rec.got)
		}
	}
	data, err := os.ReadFile(report)
	if err != nil || !strings.Contains(string(data), `"healthy":false`) {
		t.Errorf("report file: %s, %v", data, err)
	}
}

func TestPublishFailuresBackOff(t *testing.T) {
	p, set := fileProbe(t)
	rec := &recorder{fail: true}
	a, err := New(Options{Probe: p, Publisher: rec, Log: testr.New(t), RetryMin: 2 * time.Second, RetryMax: 8 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.Now()
	a.Step(ctx, t0) // fails: retry in 2s
	if !a.next.Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("first retry at %v, want +2s", a.next.Sub(t0))
	}
	a.Step(ctx, t0.Add(2*time.Second)) // fails: retry in 4s
	a.Step(ctx, t0.Add(6*time.Second)) // fails: retry in 8s
	a.Step(ctx, t0.Add(14*time.Second))
	if got := a.next.Sub(t0.Add(14 * time.Second)); got != 8*time.Second {
		t.Errorf("backoff not capped at 8s: %v", got)
	}
	// The API comes back; even a change waits for the backoff, then goes.
	rec.fail = false
	set("slave")
	a.Step(ctx, t0.Add(15*time.Second))
	if len(rec.got) != 0 {
		t.Fatalf("published during the backoff: %+v", rec.got)
	}
	a.Step(ctx, t0.Add(22*time.Second))
	if len(rec.got) != 1 || rec.got[0].Role != "slave" {
		t.Fatalf("after the backoff: %+v", rec.got)
	}
}

func TestProbeTimeoutIsUnhealthy(t *testing.T) {
	p, err := runtimeconfig.ParseProbe([]byte("command: [sleep, '10']\nparser: keyvalue\ninterval: 1s\ntimeout: 200ms\n"))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	a, _ := New(Options{Probe: p, Publisher: rec, Log: testr.New(t)})
	a.Step(context.Background(), time.Now())
	if len(rec.got) != 1 || rec.got[0].Healthy || !strings.Contains(rec.got[0].Reason, "timed out") {
		t.Fatalf("timeout: %+v", rec.got)
	}
}
