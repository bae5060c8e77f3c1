// Package server serves agent.v1 for a catalog of plugin actions.
package server

import (
	"context"
	"errors"
	"os"
	"sort"
	"time"

	"github.com/go-logr/logr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	agentv1 "github.com/plinth-io/plinth/proto/gen/agent/v1"

	"github.com/plinth-io/plinth/agents/ops/internal/actions"
	"github.com/plinth-io/plinth/apis/statusreport"
)

// Options configure the service.
type Options struct {
	Catalog *actions.Catalog
	// ReportFile is the status agent's report file (Status), "" for none.
	ReportFile string
	// MaxConcurrent bounds the actions running at once (default 4).
	MaxConcurrent int
	Log           logr.Logger
}

// Service implements agentv1.AgentServiceServer.
type Service struct {
	agentv1.UnimplementedAgentServiceServer
	o   Options
	sem chan struct{}
}

// New makes the service.
func New(o Options) *Service {
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 4
	}
	return &Service{o: o, sem: make(chan struct{}, o.MaxConcurrent)}
}

// ListActions lists the declared actions.
func (s *Service) ListActions(context.Context, *agentv1.ListActionsRequest) (*agentv1.ListActionsResponse, error) {
	resp := &agentv1.ListActionsResponse{}
	for _, a := range s.o.Catalog.List() {
		pa := &agentv1.Action{Name: a.Name, Description: a.Description, TimeoutSeconds: int32(a.Timeout.Seconds())}
		for _, p := range a.Parameters {
			pa.Parameters = append(pa.Parameters, &agentv1.ParameterSpec{
				Name: p.Name, Type: p.Type, Required: p.Required, DefaultValue: p.Default,
				AllowedValues: p.AllowedValues, Pattern: p.Pattern, Description: p.Description,
			})
		}
		resp.Actions = append(resp.Actions, pa)
	}
	return resp, nil
}

// Execute validates the parameters and runs the action.
func (s *Service) Execute(ctx context.Context, r *agentv1.ExecuteRequest) (*agentv1.ExecuteResponse, error) {
	a, err := s.o.Catalog.Get(r.GetAction())
	if err != nil {
		return nil, status.Error(codes.NotFound, err.Error())
	}
	values, err := actions.Validate(a, r.GetParameters())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	argv, err := actions.Render(a, values)
	if err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "action %s: %v", a.Name, err)
	}
	if r.GetTimeoutSeconds() < 0 {
		return nil, status.Error(codes.InvalidArgument, "timeout_seconds is negative")
	}
	timeout := a.Timeout.Duration
	if t := time.Duration(r.GetTimeoutSeconds()) * time.Second; t > 0 && t < timeout {
		timeout = t
	}
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	default:
		return nil, status.Errorf(codes.ResourceExhausted, "%d actions are already running", cap(s.sem))
	}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	// Parameter values may be secrets (passwords of ACL actions): log names only.
	log := s.o.Log.WithValues("action", a.Name, "parameters", names, "timeout", timeout.String())
	log.Info("running an action")
	res, err := actions.Run(ctx, a, argv, timeout)
	if errors.Is(err, actions.ErrTimeout) {
		log.Info("the action timed out; its process group was killed")
		return nil, status.Errorf(codes.DeadlineExceeded, "action %s: %v", a.Name, err)
	}
	if err != nil {
		log.Error(err, "the action could not run")
		return nil, status.Errorf(codes.FailedPrecondition, "action %s could not run: %v", a.Name, err)
	}
	log.Info("the action finished", "exitCode", res.ExitCode, "outputBytes", len(res.Output), "truncated", res.Truncated, "took", res.End.Sub(res.Start).String())
	return &agentv1.ExecuteResponse{
		ExitCode: int32(res.ExitCode), Output: string(res.Output), OutputTruncated: res.Truncated,
		StartTime: timestamppb.New(res.Start), EndTime: timestamppb.New(res.End),
	}, nil
}

// Status reports the status agent's last report, read from its file.
func (s *Service) Status(context.Context, *agentv1.StatusRequest) (*agentv1.StatusResponse, error) {
	resp := &agentv1.StatusResponse{Role: statusreport.RoleUnknown}
	if s.o.ReportFile == "" {
		return resp, nil
	}
	data, err := os.ReadFile(s.o.ReportFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return resp, nil
		}
		return nil, status.Errorf(codes.Unavailable, "reading the report: %v", err)
	}
	r, err := statusreport.Parse(data)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "the report file is not a valid report: %v", err)
	}
	resp.Role, resp.Healthy, resp.Details = r.Role, r.Healthy, r.Details
	if !r.Timestamp.IsZero() {
		resp.ReportTime = timestamppb.New(r.Timestamp)
	}
	return resp, nil
}
