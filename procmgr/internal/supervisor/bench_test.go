package supervisor

import (
	"context"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"

	mwt "github.com/plinth-io/plinth/internal/middlewaretest"
	"github.com/plinth-io/plinth/procmgr/internal/reaper"
	"github.com/plinth-io/plinth/runtimeconfig"
)

// untilPing polls redis every millisecond until it answers PING.
func untilPing(b *testing.B, port int) {
	deadline := time.Now().Add(60 * time.Second)
	for mwt.RawPing(port) != nil {
		if time.Now().After(deadline) {
			b.Fatal("redis did not answer within 60s")
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkRedisRestart measures the time from a Restart call to redis
// answering PING again, next to the floor: the time from starting a fresh
// redis-server to its first PONG. It reports both and their ratio, and the
// part of a restart spent stopping the old process (redis acts on SIGTERM in
// its next cron tick, up to 1/hz = 100ms later by default).
//
//	go test -run '^$' -bench BenchmarkRedisRestart -benchtime 20x ./procmgr/internal/supervisor
func BenchmarkRedisRestart(b *testing.B) {
	mwt.Need(b, "redis-server")
	port := mwt.FreePort(b)
	p := &runtimeconfig.Process{Command: "redis-server", Args: mwt.RedisArgs(port, b.TempDir())}
	p.Default()
	s, err := New(Options{Config: p, Starter: reaper.Own{}, Log: logr.Discard()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	untilPing(b, port)

	freshPort := mwt.FreePort(b)
	freshDir := b.TempDir()

	var restart, stop, fresh time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := s.Restart(ctx, 0); err != nil {
			b.Fatal(err)
		}
		stop += time.Since(t0) // Restart returns once the old process is gone and the new one forked
		untilPing(b, port)
		restart += time.Since(t0)

		cmd := exec.Command("redis-server", mwt.RedisArgs(freshPort, freshDir)...)
		t0 = time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		untilPing(b, freshPort)
		fresh += time.Since(t0)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(restart.Milliseconds())/n, "restart-ms/op")
	b.ReportMetric(float64(stop.Milliseconds())/n, "stop-ms/op")
	b.ReportMetric(float64(fresh.Milliseconds())/n, "fresh-start-ms/op")
	b.ReportMetric(float64(restart)/float64(fresh), "restart/fresh")
}
