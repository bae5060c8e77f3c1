package runtimeconfig

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Parsers of Probe.Parser.
const (
	// ParserKeyValue reads "key=value" or "key:value" lines (redis-cli info,
	// pg_controldata); other lines are ignored.
	ParserKeyValue = "keyvalue"
	// ParserJSON reads one JSON object; nested values are kept as JSON text.
	ParserJSON = "json"
	// ParserRegex matches Probe.Regex against the whole output; its named
	// groups become the fields.
	ParserRegex = "regex"
)

// DefaultHeartbeat is the probe file's heartbeat when it names none: the
// agent rewrites an unchanged report this often, and readers hold a report
// stale after three heartbeats.
const DefaultHeartbeat = 30 * time.Second

// Probe is the file of plinth-status-agent (--probe): how to ask the
// middleware for its role and health.
//
//	command: [redis-cli, -p, "6379", info, replication]   # argv, no shell
//	env: {REDISCLI_AUTH: ...}                              # added to the agent's environment
//	interval: 2s                                           # how often the probe runs
//	timeout: 1s                                            # the probe is killed after this
//	heartbeat: 30s                                         # report written at least this often
//	parser: keyvalue                                       # keyvalue, json or regex
//	regex: '(?m)^role:(?P<role>\w+)'                       # regex parser only
//	roleField: role                                        # the field that holds the role
//	roleMap: {master: primary, slave: replica}             # optional renaming of roles
//	healthy:                                               # all must hold (besides exit 0 and a role)
//	  - field: master_link_status
//	    values: [up]
//	    optional: true                                     # absent field is fine (a primary has none)
//	details: [master_repl_offset, master_link_status]      # fields copied into the report; empty: all
type Probe struct {
	Command   []string          `json:"command"`
	Env       map[string]string `json:"env,omitempty"`
	Interval  Duration          `json:"interval,omitempty"`
	Timeout   Duration          `json:"timeout,omitempty"`
	Heartbeat Duration          `json:"heartbeat,omitempty"`
	Parser    string            `json:"parser"`
	Regex     string            `json:"regex,omitempty"`
	RoleField string            `json:"roleField,omitempty"`
	RoleMap   map[string]string `json:"roleMap,omitempty"`
	Healthy   []HealthRule      `json:"healthy,omitempty"`
	Details   []string          `json:"details,omitempty"`
}

// HealthRule requires a field to hold one of the values.
type HealthRule struct {
	Field  string   `json:"field"`
	Values []string `json:"values"`
	// Optional: a missing field does not make the report unhealthy.
	Optional bool `json:"optional,omitempty"`
}

// LoadProbe reads, defaults and validates a probe file.
func LoadProbe(path string) (*Probe, error) { return load[Probe](path) }

// ParseProbe decodes, defaults and validates a probe file's content.
func ParseProbe(data []byte) (*Probe, error) { return parse[Probe](data) }

// Default fills the fields left empty.
func (p *Probe) Default() {
	if p.Interval.Duration == 0 {
		p.Interval = D(2 * time.Second)
	}
	if p.Timeout.Duration == 0 {
		p.Timeout = D(time.Second)
	}
	if p.Heartbeat.Duration == 0 {
		p.Heartbeat = D(DefaultHeartbeat)
	}
	if p.RoleField == "" {
		p.RoleField = "role"
	}
}

// Validate reports every invalid field.
func (p *Probe) Validate() error {
	var errs []error
	if len(p.Command) == 0 || strings.TrimSpace(p.Command[0]) == "" {
		errs = append(errs, errors.New("command: required (argv, the program first)"))
	}
	switch p.Parser {
	case ParserKeyValue, ParserJSON:
		if p.Regex != "" {
			errs = append(errs, fmt.Errorf("regex: only for parser %q", ParserRegex))
		}
	case ParserRegex:
		re, err := regexp.Compile(p.Regex)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("regex: %w", err))
		case !hasGroup(re, p.RoleField):
			errs = append(errs, fmt.Errorf("regex: no named group %q (roleField)", p.RoleField))
		}
	default:
		errs = append(errs, fmt.Errorf("parser %q: want %s, %s or %s", p.Parser, ParserKeyValue, ParserJSON, ParserRegex))
	}
	if p.Timeout.Duration > p.Interval.Duration {
		errs = append(errs, fmt.Errorf("timeout %s is longer than interval %s", p.Timeout.Duration, p.Interval.Duration))
	}
	if p.Heartbeat.Duration < p.Interval.Duration {
		errs = append(errs, fmt.Errorf("heartbeat %s is shorter than interval %s", p.Heartbeat.Duration, p.Interval.Duration))
	}
	for i, r := range p.Healthy {
		if r.Field == "" || len(r.Values) == 0 {
			errs = append(errs, fmt.Errorf("healthy[%d]: field and values are required", i))
		}
	}
	return errors.Join(errs...)
}

func hasGroup(re *regexp.Regexp, name string) bool {
	for _, n := range re.SubexpNames() {
		if n == name {
			return true
		}
	}
	return false
}
