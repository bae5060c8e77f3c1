// Package reaper waits for procmgr's child processes. As PID 1 (or a child
// subreaper) procmgr inherits every orphan of the container; unless something
// waits for them they stay zombies forever. There must be exactly one waiter,
// or the reaper and the supervisor would steal each other's exit statuses, so
// every child procmgr starts goes through a Starter, which hands its exit
// status back on a channel.
package reaper

import (
	"context"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sys/unix"
)

// Exit is how a child ended.
type Exit struct {
	Pid    int
	Status unix.WaitStatus
	Time   time.Time
}

// Starter starts a command and reports its exit exactly once on the
// returned channel (buffered, never closed).
type Starter interface {
	Start(cmd *exec.Cmd) (<-chan Exit, error)
}

// All waits for every child of the process, known or not (wait4(-1)). Use it
// when procmgr is PID 1 or a child subreaper; nothing else in the process may
// wait for children then, so start every command through All.Start.
type All struct {
	log logr.Logger

	mu      sync.Mutex
	waiters map[int]chan Exit
	orphans int
}

// NewAll makes a reaper of every child. Call Run.
func NewAll(log logr.Logger) *All {
	return &All{log: log, waiters: map[int]chan Exit{}}
}

// Start starts cmd and registers it before any wait can reap it.
func (r *All) Start(cmd *exec.Cmd) (<-chan Exit, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ch := make(chan Exit, 1)
	// Never call cmd.Wait or cmd.Process.Wait on it: Run reaps it. The
	// os package closes its pidfd when cmd.Process is garbage collected.
	r.waiters[cmd.Process.Pid] = ch
	return ch, nil
}

// Orphans is the number of unknown children (re-parented orphans) reaped.
func (r *All) Orphans() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.orphans
}

// Run reaps on every SIGCHLD (and every second, in case signals were merged)
// until ctx ends.
func (r *All) Run(ctx context.Context) error {
	sig := make(chan os.Signal, 16)
	signal.Notify(sig, syscall.SIGCHLD)
	defer signal.Stop(sig)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		r.reap()
		select {
		case <-ctx.Done():
			return nil
		case <-sig:
		case <-tick.C:
		}
	}
}

func (r *All) reap() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
		if ch, ok := r.waiters[pid]; ok {
			delete(r.waiters, pid)
			ch <- Exit{Pid: pid, Status: ws, Time: time.Now()}
			continue
		}
		r.orphans++
		r.log.V(1).Info("reaped an orphaned process", "pid", pid, "exitStatus", int(ws))
	}
}

// Own waits only for the commands it starts (exec.Cmd.Wait). Use it when
// procmgr is neither PID 1 nor a subreaper, or inside tests that start other
// children.
type Own struct{}

// Start starts cmd and waits for it in a goroutine.
func (Own) Start(cmd *exec.Cmd) (<-chan Exit, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ch := make(chan Exit, 1)
	go func() {
		_ = cmd.Wait()
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		ch <- Exit{Pid: cmd.Process.Pid, Status: unix.WaitStatus(ws), Time: time.Now()}
	}()
	return ch, nil
}

// BecomeSubreaper makes this process the reaper of its orphaned descendants
// (PR_SET_CHILD_SUBREAPER), as PID 1 is. It lets procmgr behave the same when
// it is not PID 1 (tests, shareProcessNamespace pods).
func BecomeSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}
