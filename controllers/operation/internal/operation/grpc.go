package operation

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/agentclient"
	"github.com/plinth-io/plinth/internal/agentrun"
	"github.com/plinth-io/plinth/internal/naming"
	"github.com/plinth-io/plinth/pluginregistry"
	procmgrv1 "github.com/plinth-io/plinth/proto/gen/procmgr/v1"
)

// procmgrCallTimeout bounds one procmgr call (a Restart returns once the
// new process is forked).
const procmgrCallTimeout = 30 * time.Second

// restartSettle is how long a restarted process must have run, with its Pod
// Ready, before a one-at-a-time step moves to the next pod.
const restartSettle = 2 * time.Second

// members lists the pods of the target's component def (its WorkloadSets'
// members, shard by shard).
func (r *Reconciler) members(ctx context.Context, s *scope, componentDef string) ([]member, []plinthv1.WorkloadSet, error) {
	if s.app == nil {
		return nil, nil, failf("the target Application %s is gone", s.op.Spec.TargetRef.Name)
	}
	var list plinthv1.WorkloadSetList
	if err := r.client.List(ctx, &list, client.InNamespace(s.op.Namespace), client.MatchingLabels{
		plinthv1.LabelApplication: s.app.Name, plinthv1.LabelComponent: naming.Component(s.app.Name, componentDef),
	}); err != nil {
		return nil, nil, fmt.Errorf("listing the WorkloadSets of component %s: %w", componentDef, err)
	}
	return membersOf(list.Items), list.Items, nil
}

// excluded collects the targets of the named steps.
func excluded(steps []plinthv1.StepStatus, names []string) map[string]bool {
	out := map[string]bool{}
	for _, n := range names {
		for _, st := range steps {
			if st.Name != n {
				continue
			}
			for _, t := range st.Targets {
				out[t.Name] = true
			}
		}
	}
	return out
}

// planGRPC chooses the pods of a grpc step.
func (r *Reconciler) planGRPC(ctx context.Context, s *scope, g *pluginregistry.GRPCStep, steps []plinthv1.StepStatus) ([]plinthv1.StepTarget, error) {
	ms, _, err := r.members(ctx, s, g.Selector.Component)
	if err != nil {
		return nil, err
	}
	var out []plinthv1.StepTarget
	for _, m := range selectPods(ms, g.Selector.Role, excluded(steps, g.Selector.Exclude), g.Policy) {
		out = append(out, plinthv1.StepTarget{Name: m.Name, Phase: plinthv1.StepPending})
	}
	return out, nil
}

func describeCall(g *pluginregistry.GRPCStep) string {
	if g.Target == pluginregistry.TargetOpsAgent {
		return fmt.Sprintf("ops-agent action %s", g.Action)
	}
	return fmt.Sprintf("procmgr %s", g.Method)
}

func (r *Reconciler) runGRPC(ctx context.Context, s *scope, step pluginregistry.Step, rec *plinthv1.StepStatus) (bool, time.Duration, error) {
	g := step.GRPC
	if rec.Targets == nil {
		targets, err := r.planGRPC(ctx, s, g, s.op.Status.Steps)
		if err != nil {
			return false, 0, err
		}
		if len(targets) == 0 {
			rec.Targets = []plinthv1.StepTarget{}
			rec.Message = fmt.Sprintf("no pod of component %s%s to call: nothing to do", g.Selector.Component, roleSuffix(g.Selector.Role))
			return true, 0, nil
		}
		rec.Targets = targets
		var names []string
		for _, t := range targets {
			names = append(names, t.Name)
		}
		rec.Message = fmt.Sprintf("%s on %s (%s)", describeCall(g), strings.Join(names, ", "), g.Policy)
		return false, nextStep, nil
	}
	ms, _, err := r.members(ctx, s, g.Selector.Component)
	if err != nil {
		return false, 0, err
	}
	done := 0
	for i := range rec.Targets {
		t := &rec.Targets[i]
		if t.Phase == plinthv1.StepSucceeded || t.Phase == plinthv1.StepSkipped {
			done++
			continue
		}
		var m *member
		for j := range ms {
			if ms[j].Name == t.Name {
				m = &ms[j]
			}
		}
		if m == nil {
			return false, 0, fmt.Errorf("pod %s is not a member of component %s now", t.Name, g.Selector.Component)
		}
		ok, after, err := r.callPod(ctx, s, g, m, t)
		if err != nil {
			if isFailure(err) {
				t.Phase, t.Message = plinthv1.StepFailed, truncate(err.Error(), 1024)
			} else {
				t.Message = truncate("will retry: "+err.Error(), 1024)
			}
			return false, 0, fmt.Errorf("pod %s: %w", t.Name, err)
		}
		if !ok {
			return false, after, nil
		}
		now := metav1.NewTime(s.now)
		t.Phase, t.CompletionTime = plinthv1.StepSucceeded, &now
		done++
		// One pod per pass: its record is written before the next call.
		if done < len(rec.Targets) {
			rec.Message = fmt.Sprintf("%s: %d of %d pods done", describeCall(g), done, len(rec.Targets))
			return false, nextStep, nil
		}
	}
	rec.Message = fmt.Sprintf("%s: %d of %d pods done", describeCall(g), done, len(rec.Targets))
	return true, 0, nil
}

func roleSuffix(role string) string {
	if role == "" {
		return ""
	}
	return " with role " + role
}

func (s *scope) agentPod(m *member) agentclient.Pod {
	return agentclient.Pod{Namespace: s.op.Namespace, Name: m.Name, Service: m.Service, Application: s.app.Name}
}

// callPod makes the step's call on one pod: a Pending target is first
// marked Running (with what the call will be judged against) and persisted;
// a Running one is called (or, for a procmgr Restart whose restart count
// already moved, not called again) and, one at a time, waited for.
func (r *Reconciler) callPod(ctx context.Context, s *scope, g *pluginregistry.GRPCStep, m *member, t *plinthv1.StepTarget) (bool, time.Duration, error) {
	now := metav1.NewTime(s.now)
	if g.Target == pluginregistry.TargetOpsAgent {
		if t.Phase != plinthv1.StepRunning {
			t.Phase, t.StartTime = plinthv1.StepRunning, &now
			return false, nextStep, nil
		}
		runner := agentrun.Runner{Agents: r.agents}
		res, err := runner.Run(ctx, agentrun.Call{Pod: s.agentPod(m), Action: g.Action, Params: g.Args})
		if err != nil {
			switch agentrun.KindOf(err) {
			case agentrun.Exited, agentrun.Refused:
				return false, 0, failf("%v", err)
			}
			return false, 0, err
		}
		t.Message = truncate(strings.TrimSpace(res.Output), 1024)
		return true, 0, nil
	}
	pm, closeConn, err := r.agents.Procmgr(ctx, s.agentPod(m))
	if err != nil {
		return false, 0, err
	}
	defer closeConn()
	cctx, cancel := context.WithTimeout(ctx, procmgrCallTimeout)
	defer cancel()
	status := func() (*procmgrv1.ProcessStatus, error) {
		st, err := pm.Status(cctx, &procmgrv1.StatusRequest{})
		if err != nil {
			return nil, fmt.Errorf("procmgr Status: %w", err)
		}
		return st.GetStatus(), nil
	}
	if t.Phase != plinthv1.StepRunning {
		if g.Method == "Restart" || g.Method == "Start" {
			// The process reads the designation from the pod's topology
			// files when it starts: not before they name the current one.
			if why, err := r.designationCurrent(ctx, s, m); err != nil || why != "" {
				t.Message = why
				return false, pollWait / 2, err
			}
		}
		if g.Method == "Restart" {
			st, err := status()
			if err != nil {
				return false, 0, err
			}
			t.Baseline, t.Detail = int64(st.GetRestartCount()), fmt.Sprintf("pid %d", st.GetPid())
		}
		t.Phase, t.StartTime = plinthv1.StepRunning, &now
		return false, nextStep, nil
	}
	switch g.Method {
	case "Restart":
		st, err := status()
		if err != nil {
			return false, 0, err
		}
		if int64(st.GetRestartCount()) <= t.Baseline {
			s.log.Info("restarting the middleware process through procmgr", "pod", m.Name, "before", t.Detail)
			if _, err := pm.Restart(cctx, &procmgrv1.RestartRequest{}); err != nil {
				return false, 0, fmt.Errorf("procmgr Restart: %w", err)
			}
			t.Message = "restart requested"
			return false, pollWait / 2, nil
		}
		if g.Policy != pluginregistry.PolicyAll {
			if ready, why := r.restartedAndReady(ctx, s, m, st); !ready {
				t.Message = why
				return false, pollWait / 2, nil
			}
		}
		t.Message = fmt.Sprintf("restarted in place: %s -> pid %d (procmgr restart count %d)", t.Detail, st.GetPid(), st.GetRestartCount())
		return true, 0, nil
	case "Stop":
		_, err = pm.Stop(cctx, &procmgrv1.StopRequest{})
	case "Start":
		_, err = pm.Start(cctx, &procmgrv1.StartRequest{})
	case "Reload":
		_, err = pm.Reload(cctx, &procmgrv1.ReloadRequest{})
	case "Status":
		var st *procmgrv1.ProcessStatus
		if st, err = status(); err == nil {
			t.Message = fmt.Sprintf("%s pid %d", st.GetState(), st.GetPid())
		}
	default:
		return false, 0, failf("procmgr method %s is not run by operation steps (Start, Stop, Restart, Reload, Status)", g.Method)
	}
	if err != nil {
		return false, 0, fmt.Errorf("procmgr %s: %w", g.Method, err)
	}
	if t.Message == "" {
		t.Message = "procmgr " + g.Method + " done"
	}
	return true, 0, nil
}

// restartedAndReady: the new process runs, has run restartSettle, and the
// Pod is Ready.
func (r *Reconciler) restartedAndReady(ctx context.Context, s *scope, m *member, st *procmgrv1.ProcessStatus) (bool, string) {
	if st.GetState() != procmgrv1.ProcessState_PROCESS_STATE_RUNNING {
		return false, fmt.Sprintf("waiting for the process in %s to run (procmgr: %s)", m.Name, st.GetState())
	}
	if start := st.GetStartTime(); start != nil && s.now.Sub(start.AsTime()) < restartSettle {
		return false, fmt.Sprintf("the process in %s started %s ago", m.Name, s.now.Sub(start.AsTime()).Round(time.Millisecond))
	}
	pod := &corev1.Pod{}
	if err := r.client.Get(ctx, client.ObjectKey{Namespace: s.op.Namespace, Name: m.Name}, pod); err != nil {
		return false, fmt.Sprintf("reading pod %s: %v", m.Name, err)
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return true, ""
		}
	}
	return false, fmt.Sprintf("waiting for pod %s to be Ready again", m.Name)
}

// designationCurrent says why m's pod does not carry its WorkloadSet's
// current designated primary yet ("" when it does, or when the WorkloadSet
// designates none).
func (r *Reconciler) designationCurrent(ctx context.Context, s *scope, m *member) (string, error) {
	ws := &plinthv1.WorkloadSet{}
	if err := r.client.Get(ctx, client.ObjectKey{Namespace: s.op.Namespace, Name: m.WorkloadSet}, ws); err != nil {
		return "", fmt.Errorf("reading WorkloadSet %s: %w", m.WorkloadSet, err)
	}
	if ws.Status.Primary == "" {
		return "", nil
	}
	pod := &corev1.Pod{}
	if err := r.client.Get(ctx, client.ObjectKey{Namespace: s.op.Namespace, Name: m.Name}, pod); err != nil {
		return "", fmt.Errorf("reading pod %s: %w", m.Name, err)
	}
	if got := pod.Annotations[plinthv1.AnnotationPrimary]; got != ws.Status.Primary {
		return fmt.Sprintf("waiting for pod %s to carry the designated primary %s (it says %q)", m.Name, ws.Status.Primary, got), nil
	}
	return "", nil
}
