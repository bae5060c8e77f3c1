//go:build e2e

package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/naming"
)

// describe is `kubectl describe` of one object.
func describe(ns, resource, name string) (string, error) {
	out, err := exec.Command("kubectl", "-n", ns, "describe", resource, name).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("kubectl describe %s %s: %v\n%s", resource, name, err, out)
	}
	return string(out), nil
}

// describeShows waits until `kubectl describe` of the object lists an Event
// with each reason whose message holds the text given for it.
func describeShows(t *testing.T, ns, resource, name string, want map[string]string) {
	t.Helper()
	eventually(t, 3*time.Minute, func() error {
		out, err := describe(ns, resource, name)
		if err != nil {
			return err
		}
		_, events, _ := strings.Cut(out, "\nEvents:")
		for reason, text := range want {
			found := false
			for _, line := range strings.Split(events, "\n") {
				if strings.Contains(line, " "+reason+" ") && strings.Contains(line, text) {
					found = true
					break
				}
			}
			if !found {
				return fmt.Errorf("%s %s: no Event %s %q in\n%s", resource, name, reason, text, events)
			}
		}
		return nil
	})
}

// TestEventsForScaleAndRollout: after a scale and a rolling update of a
// Redis replication Application, `kubectl describe` of the Application,
// its Component and its WorkloadSet shows what happened as Events.
func TestEventsForScaleAndRollout(t *testing.T) {
	ns := namespace(t)
	app := replicatedRedis(ns, "ev", "replication", map[string]int32{"redis": 2})
	if err := api(t).Create(t.Context(), app); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, ns, app.Name, plinthv1.ApplicationRunning, 5*time.Minute)
	comp := naming.Component(app.Name, "redis")
	ws := naming.WorkloadSet(comp, -1) // one unsharded WorkloadSet

	patchApp(t, ns, app.Name, func(a *plinthv1.Application) { a.Spec.Components[0].Replicas = ptr(int32(3)) })
	describeShows(t, ns, "applications.plinth.io", app.Name, map[string]string{
		plinthv1.EventReasonCreated: "created Component " + comp,
		plinthv1.EventReasonScaled:  "from 2 to 3 replicas",
	})
	describeShows(t, ns, "components.plinth.io", comp, map[string]string{
		plinthv1.EventReasonCreated: "created WorkloadSet " + ws,
		plinthv1.EventReasonScaled:  "from 2 to 3 replicas",
	})
	describeShows(t, ns, "workloadsets.plinth.io", ws, map[string]string{
		plinthv1.EventReasonScaled: "scaling out to 3 replicas: created pod " + naming.Pod(ws, 2),
	})
	waitPhase(t, ns, app.Name, plinthv1.ApplicationRunning, 5*time.Minute)

	setRestartParam(t, ns, app.Name)
	describeShows(t, ns, "applications.plinth.io", app.Name, map[string]string{plinthv1.EventReasonUpdated: "updated Component " + comp})
	describeShows(t, ns, "components.plinth.io", comp, map[string]string{plinthv1.EventReasonUpdated: "updated WorkloadSet " + ws})
	describeShows(t, ns, "workloadsets.plinth.io", ws, map[string]string{
		plinthv1.EventReasonRolloutStep:        "rolling update: replacing pod",
		plinthv1.EventReasonSwitchoverIssued:   "moving the writable role from",
		plinthv1.EventReasonSwitchoverFinished: "the writable role moved from",
	})
}
