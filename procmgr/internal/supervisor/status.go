package supervisor

import "time"

// State is where the managed process is in its life.
type State string

// States.
const (
	StateStarting State = "Starting"
	StateRunning  State = "Running"
	StateStopping State = "Stopping"
	// StateStopped: stopped on purpose; not restarted until Start.
	StateStopped State = "Stopped"
	// StateBackoff: exited unexpectedly, waiting to be restarted.
	StateBackoff State = "Backoff"
	// StateExited: exited and the restart policy says not to restart.
	StateExited State = "Exited"
)

// Status is a snapshot of the managed process.
type Status struct {
	State        State
	Pid          int
	StartTime    time.Time
	RestartCount int
	// LastExitCode is the exit code of the last run, -1 when a signal ended it.
	LastExitCode   int
	LastExitSignal string
	LastExitTime   time.Time
	Message        string
	HoldPrimary    bool
	// Backoff is the delay before the next restart while in StateBackoff.
	Backoff time.Duration
}

// Ready says whether the process is running and not being stopped.
func (s Status) Ready() bool { return s.State == StateRunning }
