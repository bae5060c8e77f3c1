// Package server serves procmgr.v1 for a supervisor. The same service is
// registered on the mutual-TLS TCP listener and on the pod-local Unix socket.
package server

import (
	"context"
	"errors"
	"time"

	"github.com/go-logr/logr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	procmgrv1 "github.com/plinth-io/plinth/proto/gen/procmgr/v1"

	"github.com/plinth-io/plinth/procmgr/internal/supervisor"
	"github.com/plinth-io/plinth/runtimeconfig"
)

// MaxGracePeriod bounds grace_period_seconds in requests.
const MaxGracePeriod = time.Hour

// Service implements procmgrv1.ProcessManagerServiceServer.
type Service struct {
	procmgrv1.UnimplementedProcessManagerServiceServer
	sup *supervisor.Supervisor
	log logr.Logger
}

// New makes the service.
func New(sup *supervisor.Supervisor, log logr.Logger) *Service {
	return &Service{sup: sup, log: log}
}

// Status reports the process.
func (s *Service) Status(context.Context, *procmgrv1.StatusRequest) (*procmgrv1.StatusResponse, error) {
	return &procmgrv1.StatusResponse{Status: ToProto(s.sup.Status())}, nil
}

// Start starts the process.
func (s *Service) Start(ctx context.Context, r *procmgrv1.StartRequest) (*procmgrv1.StartResponse, error) {
	s.log.Info("API: start", "holdPrimary", r.GetHoldPrimary())
	st, err := s.sup.Start(ctx, r.GetHoldPrimary())
	return &procmgrv1.StartResponse{Status: ToProto(st)}, toStatus(err)
}

// Stop stops the process and keeps it stopped.
func (s *Service) Stop(ctx context.Context, r *procmgrv1.StopRequest) (*procmgrv1.StopResponse, error) {
	grace, err := gracePeriod(r.GetGracePeriodSeconds())
	if err != nil {
		return nil, err
	}
	s.log.Info("API: stop", "gracePeriodSeconds", r.GetGracePeriodSeconds())
	st, err := s.sup.Stop(ctx, grace)
	return &procmgrv1.StopResponse{Status: ToProto(st)}, toStatus(err)
}

// Restart stops and starts the process.
func (s *Service) Restart(ctx context.Context, r *procmgrv1.RestartRequest) (*procmgrv1.RestartResponse, error) {
	grace, err := gracePeriod(r.GetGracePeriodSeconds())
	if err != nil {
		return nil, err
	}
	s.log.Info("API: restart", "gracePeriodSeconds", r.GetGracePeriodSeconds())
	st, err := s.sup.Restart(ctx, grace)
	return &procmgrv1.RestartResponse{Status: ToProto(st)}, toStatus(err)
}

// Reload asks the process to re-read its configuration.
func (s *Service) Reload(ctx context.Context, _ *procmgrv1.ReloadRequest) (*procmgrv1.ReloadResponse, error) {
	s.log.Info("API: reload")
	st, err := s.sup.Reload(ctx)
	return &procmgrv1.ReloadResponse{Status: ToProto(st)}, toStatus(err)
}

// Signal sends one signal to the process.
func (s *Service) Signal(_ context.Context, r *procmgrv1.SignalRequest) (*procmgrv1.SignalResponse, error) {
	sig, err := runtimeconfig.ParseSignal(r.GetSignal())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s.log.Info("API: signal", "signal", runtimeconfig.SignalName(sig))
	st, err := s.sup.Signal(sig)
	return &procmgrv1.SignalResponse{Status: ToProto(st)}, toStatus(err)
}

func gracePeriod(sec int32) (time.Duration, error) {
	d := time.Duration(sec) * time.Second
	if sec < 0 || d > MaxGracePeriod {
		return 0, status.Errorf(codes.InvalidArgument, "grace_period_seconds %d: want 0 (configured) to %d", sec, int(MaxGracePeriod.Seconds()))
	}
	return d, nil
}

func toStatus(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, supervisor.ErrNotRunning), errors.Is(err, supervisor.ErrHoldPrimaryConflict):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, supervisor.ErrBusy):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "the request's deadline passed; the operation carries on: "+err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	default:
		return status.Error(codes.Internal, err.Error())
	}
}

// ToProto converts a supervisor status.
func ToProto(st supervisor.Status) *procmgrv1.ProcessStatus {
	p := &procmgrv1.ProcessStatus{
		State:          toState(st.State),
		Pid:            int32(st.Pid),
		RestartCount:   int32(st.RestartCount),
		LastExitCode:   int32(st.LastExitCode),
		LastExitSignal: st.LastExitSignal,
		Message:        st.Message,
		HoldPrimary:    st.HoldPrimary,
	}
	if !st.StartTime.IsZero() {
		p.StartTime = timestamppb.New(st.StartTime)
	}
	if !st.LastExitTime.IsZero() {
		p.LastExitTime = timestamppb.New(st.LastExitTime)
	}
	return p
}

func toState(s supervisor.State) procmgrv1.ProcessState {
	switch s {
	case supervisor.StateStarting:
		return procmgrv1.ProcessState_PROCESS_STATE_STARTING
	case supervisor.StateRunning:
		return procmgrv1.ProcessState_PROCESS_STATE_RUNNING
	case supervisor.StateStopping:
		return procmgrv1.ProcessState_PROCESS_STATE_STOPPING
	case supervisor.StateStopped:
		return procmgrv1.ProcessState_PROCESS_STATE_STOPPED
	case supervisor.StateBackoff:
		return procmgrv1.ProcessState_PROCESS_STATE_BACKOFF
	case supervisor.StateExited:
		return procmgrv1.ProcessState_PROCESS_STATE_EXITED
	}
	return procmgrv1.ProcessState_PROCESS_STATE_UNSPECIFIED
}
