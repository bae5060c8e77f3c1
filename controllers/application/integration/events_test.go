package integration

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

// TestEventsOnApplications: creating a Component and refusing a spec are
// recorded as events.k8s.io/v1 Events regarding the Application.
func TestEventsOnApplications(t *testing.T) {
	ns := newNamespace(t)
	startController(t, ns, controllerOptions{})
	for _, app := range []*plinthv1.Application{
		redisApp(ns, "good"),
		redisApp(ns, "bad", func(a *plinthv1.Application) {
			a.Spec.Components = []plinthv1.ApplicationComponent{{Name: "redis", Replicas: ptr.To[int32](3)}}
		}),
	} {
		if err := env.Client.Create(ctx(t), app); err != nil {
			t.Fatal(err)
		}
	}
	cs := kubernetes.NewForConfigOrDie(env.Config)
	for _, want := range []struct{ app, typ, reason, note string }{
		{"good", "Normal", plinthv1.EventReasonCreated, "created Component good-redis"},
		{"bad", "Warning", plinthv1.EventReasonSpecRefused, "spec.components[redis].replicas 3 is out of range"},
	} {
		eventually(t, "Event "+want.reason+" on "+want.app, func() error {
			list, err := cs.EventsV1().Events(ns).List(ctx(t), metav1.ListOptions{})
			if err != nil {
				return err
			}
			var seen []string
			for _, e := range list.Items {
				if e.Regarding.Kind == "Application" && e.Regarding.Name == want.app && e.Type == want.typ && e.Reason == want.reason &&
					strings.Contains(e.Note, want.note) && e.ReportingController != "" {
					return nil
				}
				seen = append(seen, e.Regarding.Name+" "+e.Reason+": "+e.Note)
			}
			return fmt.Errorf("no %s Event %s %q on %s among %q", want.typ, want.reason, want.note, want.app, seen)
		})
	}
}
