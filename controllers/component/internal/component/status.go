package component

import (
	"fmt"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/conditions"
)

// summarize folds the WorkloadSets' status into the Component's. A
// component waiting for its bootstrap action is not Running, nor one that
// reshards (resharding says what it does).
func summarize(comp *plinthv1.Component, wss []plinthv1.WorkloadSet, status *plinthv1.ComponentStatus, awaitingBootstrap bool, resharding string) {
	var desired, ready int32
	status.WorkloadSets = status.WorkloadSets[:0]
	for _, ws := range wss {
		status.WorkloadSets = append(status.WorkloadSets, ws.Name)
		if !ws.Spec.Stopped {
			desired += ws.Spec.Replicas
		}
		ready += ws.Status.ReadyReplicas
	}
	status.Replicas, status.ReadyReplicas = desired, ready
	status.Ready = fmt.Sprintf("%d/%d", ready, desired)
	status.Phase = componentPhase(comp, wss, status.Phase)
	if awaitingBootstrap && !comp.Spec.Stopped && status.Phase != plinthv1.ComponentStopping && status.Phase != plinthv1.ComponentStopped {
		status.Phase = plinthv1.ComponentCreating
	}

	gen := comp.Generation
	if resharding != "" && !awaitingBootstrap && !comp.Spec.Stopped {
		status.Phase = plinthv1.ComponentUpdating
		conditions.MarkFalse(&status.Conditions, gen, plinthv1.ConditionReady, plinthv1.ReasonResharding,
			fmt.Sprintf("%s members ready; %s", status.Ready, resharding))
		return
	}
	if awaitingBootstrap && status.Phase == plinthv1.ComponentCreating {
		conditions.MarkFalse(&status.Conditions, gen, plinthv1.ConditionReady, plinthv1.ReasonBootstrapping,
			fmt.Sprintf("%s members ready; waiting for the bootstrap action (see the Bootstrapped condition)", status.Ready))
		return
	}
	switch status.Phase {
	case plinthv1.ComponentRunning:
		conditions.MarkTrue(&status.Conditions, gen, plinthv1.ConditionReady, plinthv1.ReasonAvailable, fmt.Sprintf("%s members ready", status.Ready))
	case plinthv1.ComponentStopped:
		conditions.MarkFalse(&status.Conditions, gen, plinthv1.ConditionReady, plinthv1.ReasonStopped, "stopped: pods removed, volumes kept")
	case plinthv1.ComponentUpdating:
		conditions.MarkFalse(&status.Conditions, gen, plinthv1.ConditionReady, plinthv1.ReasonUpdating, fmt.Sprintf("rolling out: %s members ready", status.Ready))
	default:
		conditions.MarkFalse(&status.Conditions, gen, plinthv1.ConditionReady, plinthv1.ReasonMembersNotReady, fmt.Sprintf("%s members ready", status.Ready))
	}
}

// componentPhase is the Component's phase given its WorkloadSets and the
// phase it had.
func componentPhase(comp *plinthv1.Component, wss []plinthv1.WorkloadSet, previous plinthv1.ComponentPhase) plinthv1.ComponentPhase {
	if comp.Spec.Stopped {
		for _, ws := range wss {
			if ws.Status.Replicas > 0 || ws.Status.ObservedGeneration < ws.Generation {
				return plinthv1.ComponentStopping
			}
		}
		return plinthv1.ComponentStopped
	}
	allReady, updating := true, false
	for _, ws := range wss {
		if ws.Status.ObservedGeneration < ws.Generation || ws.Status.Phase == plinthv1.ComponentUpdating ||
			ws.Status.UpdatedReplicas < ws.Spec.Replicas {
			updating = true
		}
		// The WorkloadSet is Running only when every member is ready, healthy
		// and has reported its role (so role Services have their endpoints).
		if ws.Status.Phase != plinthv1.ComponentRunning || ws.Status.ObservedGeneration < ws.Generation {
			allReady = false
		}
	}
	switch {
	case allReady && !updating:
		return plinthv1.ComponentRunning
	case previous == "" || previous == plinthv1.ComponentCreating || previous == plinthv1.ComponentFailed:
		return plinthv1.ComponentCreating
	case previous == plinthv1.ComponentStopped || previous == plinthv1.ComponentStopping:
		return plinthv1.ComponentCreating
	case updating:
		return plinthv1.ComponentUpdating
	default:
		return plinthv1.ComponentAbnormal
	}
}

// recordRunningVersions moves status.pluginVersion and status.version to the
// spec's once the pods run them: the Component is Running and every
// WorkloadSet has observed its current pod template (rendered from the
// spec's versions) with every member updated to it and ready. Until then
// they keep the versions that ran before.
func recordRunningVersions(comp *plinthv1.Component, wss []plinthv1.WorkloadSet, status *plinthv1.ComponentStatus) {
	if status.Phase != plinthv1.ComponentRunning || len(wss) == 0 {
		return
	}
	for i := range wss {
		ws := &wss[i]
		if ws.Status.ObservedGeneration < ws.Generation || ws.Status.Replicas != ws.Spec.Replicas ||
			ws.Status.UpdatedReplicas != ws.Spec.Replicas || ws.Status.ReadyReplicas != ws.Spec.Replicas {
			return
		}
	}
	status.PluginVersion, status.Version = comp.Spec.PluginVersion, comp.Spec.Version
}
