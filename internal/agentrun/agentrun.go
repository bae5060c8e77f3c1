package agentrun

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/plinth-io/plinth/internal/agentclient"
	agentv1 "github.com/plinth-io/plinth/proto/gen/agent/v1"
)

const (
	// DefaultTimeout bounds a call when neither the Call nor the Runner
	// says otherwise.
	DefaultTimeout = 2 * time.Minute
	// DefaultMaxOutput is how much of an action's output (its end) a
	// Result keeps.
	DefaultMaxOutput = 4 << 10
	// maxMessageOutput is how much of the output an Error's message quotes
	// (its last line): a condition message stays short.
	maxMessageOutput = 200
	// maxMessageStatus is how much of a gRPC status message an Error's
	// message quotes.
	maxMessageStatus = 300
)

// Executor calls one pod's ops agent (agentclient.Client).
type Executor interface {
	Execute(ctx context.Context, pod agentclient.Pod, req *agentv1.ExecuteRequest) (*agentv1.ExecuteResponse, error)
}

// Runner runs actions through ops agents. Agents must be set; the zero
// values of the others mean their defaults.
type Runner struct {
	Agents Executor
	// Timeout bounds a call that sets none (DefaultTimeout).
	Timeout time.Duration
	// MaxOutput is how many bytes of output (the end) a Result or Error
	// keeps (DefaultMaxOutput).
	MaxOutput int
}

// Call is one action on one pod.
type Call struct {
	Pod    agentclient.Pod
	Action string
	Params map[string]string
	// SecretParams names the parameters whose values are secret: they are
	// redacted wherever they show up in what comes back.
	SecretParams []string
	// Secrets are other values to redact (the credentials Secret's values,
	// the action's secret env).
	Secrets []string
	// WithholdOutput drops the output altogether (the caller could not
	// learn the secrets to redact).
	WithholdOutput bool
	// Timeout bounds the call (and the action on the agent); 0 means the
	// Runner's. A sooner deadline on the context wins.
	Timeout time.Duration
}

// Result is a call that ran to its end with exit code 0.
type Result struct {
	// Output is the action's output, redacted, its last MaxOutput bytes.
	Output string
	// Truncated: the agent or the runner cut the output.
	Truncated bool
	// Took is how long the call took.
	Took time.Duration
}

// Kind says how a call failed.
type Kind string

const (
	// Unavailable: the agent could not be reached or authenticated (or
	// the controller's certificate could not be read).
	Unavailable Kind = "Unavailable"
	// Refused: the agent answered but did not run the action (unknown
	// action, invalid parameters, too many actions running).
	Refused Kind = "Refused"
	// Timeout: the call or the action ran out of time (the agent kills
	// the action's process group).
	Timeout Kind = "Timeout"
	// Exited: the action ran and exited with a non-zero code.
	Exited Kind = "Exited"
)

// Error is a failed call. Every string in it is redacted.
type Error struct {
	Kind   Kind
	Pod    string
	Action string
	// Code is the gRPC status code (OK for Exited).
	Code codes.Code
	// Detail is the agent's or the transport's message, redacted, on one
	// line (empty for Exited).
	Detail string
	// ExitCode and Output (redacted, its last MaxOutput bytes) for Exited.
	ExitCode int32
	Output   string
}

// Error is one line a condition message can carry.
func (e *Error) Error() string {
	switch e.Kind {
	case Exited:
		msg := fmt.Sprintf("action %s on pod %s exited with code %d", e.Action, e.Pod, e.ExitCode)
		if tail := LastLine(e.Output, maxMessageOutput); tail != "" {
			msg += ": " + tail
		}
		return msg
	case Timeout:
		return fmt.Sprintf("action %s on pod %s timed out: %s", e.Action, e.Pod, e.Detail)
	case Refused:
		return fmt.Sprintf("the ops agent of pod %s refused action %s: %s: %s", e.Pod, e.Action, e.Code, e.Detail)
	default:
		return fmt.Sprintf("calling the ops agent of pod %s for action %s: %s: %s", e.Pod, e.Action, e.Code, e.Detail)
	}
}

// KindOf is err's Kind when it is (or wraps) an *Error, else "".
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// Run runs call. A failure is an *Error.
func (r *Runner) Run(ctx context.Context, call Call) (Result, error) {
	timeout := call.Timeout
	if timeout <= 0 {
		timeout = r.Timeout
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	maxOut := r.MaxOutput
	if maxOut <= 0 {
		maxOut = DefaultMaxOutput
	}
	secrets := slices.Clone(call.Secrets)
	for _, p := range call.SecretParams {
		secrets = append(secrets, call.Params[p])
	}
	red := NewRedactor(secrets...)
	names := make([]string, 0, len(call.Params))
	for k := range call.Params {
		names = append(names, k)
	}
	slices.Sort(names)
	log := ctrl.LoggerFrom(ctx).WithValues("action", call.Action, "pod", call.Pod.Name)
	log.Info("running an ops-agent action", "parameters", names, "timeout", timeout.String())

	callCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	resp, err := r.Agents.Execute(callCtx, call.Pod, &agentv1.ExecuteRequest{
		Action: call.Action, Parameters: call.Params, TimeoutSeconds: int32(max(timeout/time.Second, 1)),
	})
	took := time.Since(start)
	if err != nil {
		e := callError(callCtx, err, red)
		e.Pod, e.Action = call.Pod.Name, call.Action
		log.Info("the ops-agent action failed", "kind", e.Kind, "code", e.Code.String(), "took", took.String(), "error", e.Error())
		return Result{}, e
	}
	out, cut := "", false
	if !call.WithholdOutput {
		out, cut = red.Output(resp.GetOutput(), resp.GetOutputTruncated(), maxOut)
	}
	truncated := cut || resp.GetOutputTruncated()
	if code := resp.GetExitCode(); code != 0 {
		e := &Error{Kind: Exited, Pod: call.Pod.Name, Action: call.Action, ExitCode: code, Output: out}
		log.Info("the ops-agent action exited non-zero", "exitCode", code, "took", took.String(), "outputBytes", len(resp.GetOutput()), "truncated", truncated)
		return Result{Output: out, Truncated: truncated, Took: took}, e
	}
	log.Info("the ops-agent action succeeded", "took", took.String(), "outputBytes", len(resp.GetOutput()), "truncated", truncated)
	return Result{Output: out, Truncated: truncated, Took: took}, nil
}

// callError classifies err, the error of an Execute call under ctx.
func callError(ctx context.Context, err error, red *Redactor) *Error {
	s, isStatus := status.FromError(err)
	e := &Error{Code: s.Code(), Detail: OneLine(red.Redact(s.Message()), maxMessageStatus)}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || s.Code() == codes.DeadlineExceeded:
		e.Kind, e.Code = Timeout, codes.DeadlineExceeded
	case !isStatus:
		e.Kind = Unavailable
	case s.Code() == codes.NotFound, s.Code() == codes.InvalidArgument, s.Code() == codes.FailedPrecondition, s.Code() == codes.ResourceExhausted:
		e.Kind = Refused
	default:
		e.Kind = Unavailable
	}
	return e
}
