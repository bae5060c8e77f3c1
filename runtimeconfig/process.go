package runtimeconfig

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Restart policies of Process.Restart.Policy.
const (
	RestartAlways    = "Always"
	RestartOnFailure = "OnFailure"
	RestartNever     = "Never"
)

// DefaultHoldPrimaryEnv is the variable set to "true" in the environment of a
// process started with hold_primary (and "false" otherwise).
const DefaultHoldPrimaryEnv = "PLINTH_HOLD_PRIMARY"

// Process is the file of plinth-procmgr (--config): the one process it runs.
//
//	command: /usr/bin/redis-server        # required; absolute, or looked up in PATH
//	args: [/etc/redis/redis.conf]
//	env: {REDIS_PORT: "6379"}             # added to procmgr's own environment
//	workingDir: /data
//	user: redis                           # run as this user (name or uid[:gid]); default: procmgr's user
//	stopSignal: TERM                      # default TERM
//	gracePeriod: 30s                      # stop signal, then SIGKILL of the process group after this
//	reload:
//	  signal: HUP                         # either a signal sent to the process ...
//	  command: [redis-cli, config, rewrite] # ... or a command run next to it (argv, no shell)
//	  timeout: 30s
//	restart:
//	  policy: Always                      # Always (default), OnFailure, Never
//	  initialBackoff: 1s                  # doubles after every quick exit ...
//	  maxBackoff: 30s                     # ... up to this cap
//	  resetAfter: 60s                     # a run this long resets the backoff
//	holdPrimary:
//	  env: PLINTH_HOLD_PRIMARY            # "true" when started with hold_primary
//	  file: /plinth/run/hold-primary      # exists while hold_primary is in force
//	stateFile: /data/.plinth-procmgr.json # remembers Stop and hold_primary across container restarts
type Process struct {
	Command     string            `json:"command"`
	Args        []string          `json:"args,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	WorkingDir  string            `json:"workingDir,omitempty"`
	User        string            `json:"user,omitempty"`
	StopSignal  string            `json:"stopSignal,omitempty"`
	GracePeriod Duration          `json:"gracePeriod,omitempty"`
	Reload      Reload            `json:"reload,omitempty"`
	Restart     RestartPolicy     `json:"restart,omitempty"`
	HoldPrimary HoldPrimary       `json:"holdPrimary,omitempty"`
	StateFile   string            `json:"stateFile,omitempty"`
}

// Reload says how the process re-reads its configuration: a signal, or a
// command (argv) run while the process keeps running. Default: signal HUP.
type Reload struct {
	Signal  string   `json:"signal,omitempty"`
	Command []string `json:"command,omitempty"`
	Timeout Duration `json:"timeout,omitempty"`
}

// RestartPolicy says when and how fast an exited process is started again.
type RestartPolicy struct {
	Policy         string   `json:"policy,omitempty"`
	InitialBackoff Duration `json:"initialBackoff,omitempty"`
	MaxBackoff     Duration `json:"maxBackoff,omitempty"`
	ResetAfter     Duration `json:"resetAfter,omitempty"`
}

// HoldPrimary says how a process started with hold_primary learns that it
// must not take the primary role: an environment variable and, optionally, a
// marker file that plugin scripts test.
type HoldPrimary struct {
	Env  string `json:"env,omitempty"`
	File string `json:"file,omitempty"`
}

// LoadProcess reads, defaults and validates a process file.
func LoadProcess(path string) (*Process, error) { return load[Process](path) }

// ParseProcess decodes, defaults and validates a process file's content.
func ParseProcess(data []byte) (*Process, error) { return parse[Process](data) }

// Default fills the fields left empty.
func (p *Process) Default() {
	if p.StopSignal == "" {
		p.StopSignal = "TERM"
	}
	if p.GracePeriod.Duration == 0 {
		p.GracePeriod = D(30 * time.Second)
	}
	if p.Reload.Signal == "" && len(p.Reload.Command) == 0 {
		p.Reload.Signal = "HUP"
	}
	if p.Reload.Timeout.Duration == 0 {
		p.Reload.Timeout = D(30 * time.Second)
	}
	if p.Restart.Policy == "" {
		p.Restart.Policy = RestartAlways
	}
	if p.Restart.InitialBackoff.Duration == 0 {
		p.Restart.InitialBackoff = D(time.Second)
	}
	if p.Restart.MaxBackoff.Duration == 0 {
		p.Restart.MaxBackoff = D(30 * time.Second)
	}
	if p.Restart.ResetAfter.Duration == 0 {
		p.Restart.ResetAfter = D(60 * time.Second)
	}
	if p.HoldPrimary.Env == "" {
		p.HoldPrimary.Env = DefaultHoldPrimaryEnv
	}
}

// Validate reports every invalid field.
func (p *Process) Validate() error {
	var errs []error
	if strings.TrimSpace(p.Command) == "" {
		errs = append(errs, errors.New("command: required"))
	}
	if _, err := ParseSignal(p.StopSignal); err != nil {
		errs = append(errs, fmt.Errorf("stopSignal: %w", err))
	}
	if p.Reload.Signal != "" && len(p.Reload.Command) > 0 {
		errs = append(errs, errors.New("reload: set signal or command, not both"))
	}
	if p.Reload.Signal != "" {
		if _, err := ParseSignal(p.Reload.Signal); err != nil {
			errs = append(errs, fmt.Errorf("reload.signal: %w", err))
		}
	}
	if len(p.Reload.Command) > 0 && strings.TrimSpace(p.Reload.Command[0]) == "" {
		errs = append(errs, errors.New("reload.command: the first element (the program) is empty"))
	}
	switch p.Restart.Policy {
	case RestartAlways, RestartOnFailure, RestartNever:
	default:
		errs = append(errs, fmt.Errorf("restart.policy %q: want Always, OnFailure or Never", p.Restart.Policy))
	}
	if p.Restart.MaxBackoff.Duration < p.Restart.InitialBackoff.Duration {
		errs = append(errs, fmt.Errorf("restart.maxBackoff %s is shorter than restart.initialBackoff %s",
			p.Restart.MaxBackoff.Duration, p.Restart.InitialBackoff.Duration))
	}
	for k := range p.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			errs = append(errs, fmt.Errorf("env: invalid variable name %q", k))
		}
	}
	if strings.ContainsAny(p.HoldPrimary.Env, "=\x00") {
		errs = append(errs, fmt.Errorf("holdPrimary.env: invalid variable name %q", p.HoldPrimary.Env))
	}
	return errors.Join(errs...)
}
