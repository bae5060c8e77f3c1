package switchover

import (
	"context"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/agentclient"
	"github.com/plinth-io/plinth/internal/agentrun"
)

// CallTimeout bounds each switchover action (the agent kills it then); the
// caller's context deadline bounds it too.
const CallTimeout = 30 * time.Second

// Host is a pod's stable DNS name in ws (<pod>.<service>.<namespace>.svc).
func Host(ws *plinthv1.WorkloadSet, pod string) string {
	return fmt.Sprintf("%s.%s.%s.svc", pod, ws.Spec.ServiceName, ws.Namespace)
}

// Issue runs ws's spec.switchover actions in order, moving the writable role
// from primary to candidate: each on the primary or on the candidate, with
// the parameters it names. The first failing action ends it.
func Issue(ctx context.Context, runner agentrun.Runner, ws *plinthv1.WorkloadSet, primary, candidate string) error {
	if len(ws.Spec.Switchover) == 0 {
		return fmt.Errorf("WorkloadSet %s declares no switchover actions", ws.Name)
	}
	values := map[string]string{
		plinthv1.SwitchoverCandidate:     candidate,
		plinthv1.SwitchoverCandidateHost: Host(ws, candidate),
		plinthv1.SwitchoverPrimary:       primary,
		plinthv1.SwitchoverPrimaryHost:   Host(ws, primary),
	}
	log := ctrl.LoggerFrom(ctx)
	for _, st := range ws.Spec.Switchover {
		target := primary
		if st.Target == plinthv1.SwitchoverOnCandidate {
			target = candidate
		}
		params := map[string]string{}
		for _, p := range st.Parameters {
			if v, ok := values[p]; ok {
				params[p] = v
			}
		}
		log.Info("switching over: running an action through the ops agent", "action", st.Action, "pod", target, "from", primary, "to", candidate)
		if _, err := runner.Run(ctx, agentrun.Call{
			Pod:    agentclient.Pod{Namespace: ws.Namespace, Name: target, Service: ws.Spec.ServiceName, Application: ws.Labels[plinthv1.LabelApplication]},
			Action: st.Action, Params: params, Timeout: CallTimeout,
		}); err != nil {
			return err
		}
	}
	return nil
}
