package application

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/conditions"
)

// aggregated is the Application status derived from its Components.
type aggregated struct {
	Phase      plinthv1.ApplicationPhase
	Ready      string
	Components []plinthv1.ComponentSummary
	// ReadyStatus, ReadyReason and ReadyMessage are the Ready condition.
	ReadyStatus  metav1.ConditionStatus
	ReadyReason  string
	ReadyMessage string
	// Progressing says whether a change is being rolled out.
	Progressing bool
}

// desiredMembers is the number of pods a Component should have running.
func desiredMembers(c *plinthv1.Component) int32 {
	if c.Spec.Stopped {
		return 0
	}
	return c.Spec.Replicas * max(c.Spec.Shards, 1)
}

// observedCurrent says whether the component-controller has seen the
// Component's current spec.
func observedCurrent(c *plinthv1.Component) bool {
	return c.Status.ObservedGeneration == c.Generation
}

// componentReady says whether a Component runs its current spec with every
// member ready.
func componentReady(c *plinthv1.Component) bool {
	if !observedCurrent(c) || c.Spec.Stopped {
		return false
	}
	running := c.Status.Phase == plinthv1.ComponentRunning || conditions.IsTrue(c.Status.Conditions, plinthv1.ConditionReady)
	return running && c.Status.ReadyReplicas >= desiredMembers(c)
}

// rolledOut says whether app's spec.pluginVersion and spec.version run: every
// Component (as applied in this pass) carries them, has observed that spec
// and is Ready running them (its status.pluginVersion and status.version,
// which the component-controller moves only once every member runs the new
// pod template). Until then status.pluginVersion and status.version keep the
// versions that ran before.
func rolledOut(app *plinthv1.Application, comps []*plinthv1.Component) bool {
	if len(comps) == 0 {
		return false
	}
	for _, c := range comps {
		if c.Spec.PluginVersion != app.Spec.PluginVersion || c.Spec.Version != app.Spec.Version ||
			c.Status.PluginVersion != c.Spec.PluginVersion || c.Status.Version != c.Spec.Version || !componentReady(c) {
			return false
		}
	}
	return true
}

// componentStopped says whether a stopped Component has no member left running.
func componentStopped(c *plinthv1.Component) bool {
	return c.Spec.Stopped && observedCurrent(c) && c.Status.Phase == plinthv1.ComponentStopped
}

// componentSettled says whether a Component is neither being created nor
// updated: not ready then means its members failed.
func componentSettled(c *plinthv1.Component) bool {
	switch c.Status.Phase {
	case "", plinthv1.ComponentCreating, plinthv1.ComponentUpdating:
		return false
	}
	return observedCurrent(c)
}

// wasRunning says whether an Application in phase prev had been running:
// missing members then make it Updating or Abnormal, not Creating.
func wasRunning(prev plinthv1.ApplicationPhase) bool {
	switch prev {
	case plinthv1.ApplicationRunning, plinthv1.ApplicationUpdating, plinthv1.ApplicationAbnormal,
		plinthv1.ApplicationStopping, plinthv1.ApplicationStopped:
		return true
	}
	return false
}

// aggregate derives the phase, the ready count and the Ready condition of an
// Application from its Components (one per topology component, as applied).
// prev is the phase last reported; specChanged says whether the Application's
// spec changed since the last reported status.
func aggregate(prev plinthv1.ApplicationPhase, specChanged, stopped bool, comps []*plinthv1.Component) aggregated {
	var a aggregated
	var ready, desired int32
	var allReady, allStopped, allSettled = true, true, true
	var waiting []string
	for _, c := range comps {
		d := desiredMembers(c)
		desired += d
		ready += min(c.Status.ReadyReplicas, d)
		a.Components = append(a.Components, plinthv1.ComponentSummary{
			Name: c.Name, Phase: c.Status.Phase, Replicas: d, ReadyReplicas: c.Status.ReadyReplicas,
		})
		if !componentReady(c) {
			allReady = false
			if !stopped {
				waiting = append(waiting, describe(c))
			}
		}
		if !componentStopped(c) {
			allStopped = false
			if stopped {
				waiting = append(waiting, describe(c))
			}
		}
		if !componentSettled(c) {
			allSettled = false
		}
	}
	a.Ready = fmt.Sprintf("%d/%d", ready, desired)
	a.ReadyStatus = metav1.ConditionFalse
	waitingFor := "waiting for " + strings.Join(waiting, ", ")

	switch {
	case stopped && allStopped:
		a.Phase, a.ReadyReason = plinthv1.ApplicationStopped, plinthv1.ReasonStopped
		a.ReadyMessage = "the Application is stopped (no pods, volumes kept); set spec.stopped to false to start it"
	case stopped:
		a.Phase, a.ReadyReason, a.Progressing = plinthv1.ApplicationStopping, plinthv1.ReasonStopped, true
		a.ReadyMessage = "stopping: " + waitingFor
	case allReady && len(comps) > 0:
		a.Phase, a.ReadyStatus, a.ReadyReason = plinthv1.ApplicationRunning, metav1.ConditionTrue, plinthv1.ReasonAvailable
		a.ReadyMessage = fmt.Sprintf("all %d members are ready", desired)
	case !wasRunning(prev):
		a.Phase, a.ReadyReason, a.Progressing = plinthv1.ApplicationCreating, plinthv1.ReasonCreating, true
		a.ReadyMessage = fmt.Sprintf("creating: %s members ready; %s", a.Ready, waitingFor)
	case specChanged || !allSettled:
		a.Phase, a.ReadyReason, a.Progressing = plinthv1.ApplicationUpdating, plinthv1.ReasonUpdating, true
		a.ReadyMessage = fmt.Sprintf("updating: %s members ready; %s", a.Ready, waitingFor)
	default:
		a.Phase, a.ReadyReason = plinthv1.ApplicationAbnormal, plinthv1.ReasonMembersNotReady
		a.ReadyMessage = fmt.Sprintf("%s members ready; not ready: %s", a.Ready, strings.Join(waiting, ", "))
	}
	return a
}

// describe names a Component and how far it is, for condition messages.
func describe(c *plinthv1.Component) string {
	phase := string(c.Status.Phase)
	if phase == "" || !observedCurrent(c) {
		phase = "not yet observed by the component-controller"
	}
	return fmt.Sprintf("Component %s (%s, %d/%d ready)", c.Name, phase, c.Status.ReadyReplicas, desiredMembers(c))
}
