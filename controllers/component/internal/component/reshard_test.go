package component_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/conditions"
	"github.com/plinth-io/plinth/internal/naming"
)

// resharding is the Component's Resharding condition, FormedShards and phase.
func resharding(t *testing.T, ns, name string) (*metav1.Condition, *plinthv1.Component, error) {
	c := &plinthv1.Component{}
	if err := get(t, ns, name, c); err != nil {
		return nil, nil, err
	}
	cond := conditions.Get(c.Status.Conditions, plinthv1.ConditionResharding)
	if cond == nil {
		return nil, c, fmt.Errorf("no Resharding condition yet: %+v", c.Status.Conditions)
	}
	return cond, c, nil
}

// expectResharding waits until the Resharding condition has status and
// reason (and its message contains msg), the Component formedShards and
// phase.
func expectResharding(t *testing.T, ns, name string, status metav1.ConditionStatus, reason, msg string, formed int32, phase plinthv1.ComponentPhase) {
	t.Helper()
	eventually(t, fmt.Sprintf("Resharding %s/%s, %d shards formed, %s", status, reason, formed, phase), func() error {
		cond, c, err := resharding(t, ns, name)
		if err != nil {
			return err
		}
		if cond.Status != status || cond.Reason != reason || !strings.Contains(cond.Message, msg) {
			return fmt.Errorf("condition = %+v", cond)
		}
		if c.Status.FormedShards != formed || c.Status.Phase != phase {
			return fmt.Errorf("formedShards %d, phase %s", c.Status.FormedShards, c.Status.Phase)
		}
		return nil
	})
}

func setShards(t *testing.T, ns, name string, shards int32) {
	t.Helper()
	eventually(t, fmt.Sprintf("shards = %d", shards), func() error {
		c := &plinthv1.Component{}
		if err := get(t, ns, name, c); err != nil {
			return err
		}
		c.Spec.Shards = shards
		return env.Client.Update(ctxT(t), c)
	})
}

// members is the members parameter for shards [0, n) of 2 pods.
func members(ns, comp string, n int32) string {
	var m []string
	for s := int32(0); s < n; s++ {
		for o := int32(0); o < 2; o++ {
			m = append(m, naming.Pod(naming.WorkloadSet(comp, s), o)+"."+naming.HeadlessService(comp)+"."+ns+".svc:8080")
		}
	}
	return strings.Join(m, " ")
}

// TestReshardScalesOutAndInThroughTheAgent: after the bootstrap, a third
// shard is joined by the scale-out action (through the real ops agent) only
// once its pods are Ready; scaling back in runs the scale-in action with
// every existing shard's pods before the leaving WorkloadSet is deleted,
// and a failing run keeps it (the Component not Running) until a retry
// succeeds. FormedShards and the Resharding condition tell each step.
func TestReshardScalesOutAndInThroughTheAgent(t *testing.T) {
	clock.Reset() // real time: the retries wait out the real backoff (5s)
	ns := namespace(t)
	const password = "reshard-Passw0rd"
	comp := bootComponent(t, ns, "rs", password)
	dir := t.TempDir()
	bootLog, reshardLog, failFile := filepath.Join(dir, "boot.log"), filepath.Join(dir, "reshard.log"), filepath.Join(dir, "fail")
	fail := func(msg string) {
		t.Helper()
		if err := os.WriteFile(failFile, []byte(msg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fail("")
	startOpsAgent(t, ns, comp, "BOOT_LOG="+bootLog, "BOOT_FAIL=/nonexistent", "RESHARD_LOG="+reshardLog, "RESHARD_FAIL="+failFile)
	markMembersReady(t, ns, naming.WorkloadSet(comp.Name, 0))
	markMembersReady(t, ns, naming.WorkloadSet(comp.Name, 1))
	expectResharding(t, ns, comp.Name, metav1.ConditionFalse, plinthv1.ReasonResharded, "2 shards", 2, plinthv1.ComponentRunning)

	// Scale-out: the new shard's WorkloadSet is made; the action waits for its pods.
	setShards(t, ns, comp.Name, 3)
	expectResharding(t, ns, comp.Name, metav1.ConditionTrue, plinthv1.ReasonScalingOut, "waiting for every pod to be Ready before running the grow action: 4/6 ready", 2, plinthv1.ComponentUpdating)
	if lines := logLines(t, reshardLog); len(lines) != 0 {
		t.Fatalf("the scale-out action ran before the new shard's pods were Ready: %q", lines)
	}
	fail("cannot move slots (auth " + password + ")\n")
	markMembersReady(t, ns, naming.WorkloadSet(comp.Name, 2))
	expectResharding(t, ns, comp.Name, metav1.ConditionTrue, plinthv1.ReasonReshardFailed, "exited with code 4: cannot move slots (auth ***)", 2, plinthv1.ComponentUpdating)
	fail("")
	expectResharding(t, ns, comp.Name, metav1.ConditionFalse, plinthv1.ReasonResharded, "3 shards", 3, plinthv1.ComponentRunning)

	// Scale-in: the leaving WorkloadSet stays while the action fails.
	fail("slots still importing\n")
	setShards(t, ns, comp.Name, 2)
	expectResharding(t, ns, comp.Name, metav1.ConditionTrue, plinthv1.ReasonReshardFailed, "slots still importing", 3, plinthv1.ComponentUpdating)
	ws2 := &plinthv1.WorkloadSet{}
	if err := get(t, ns, naming.WorkloadSet(comp.Name, 2), ws2); err != nil || !ws2.DeletionTimestamp.IsZero() {
		t.Fatalf("the leaving WorkloadSet must stay until the scale-in action succeeded: %v, deletion %v", err, ws2.DeletionTimestamp)
	}
	fail("")
	expectResharding(t, ns, comp.Name, metav1.ConditionFalse, plinthv1.ReasonResharded, "2 shards", 2, plinthv1.ComponentRunning)
	eventually(t, "the leaving WorkloadSet deleted", func() error {
		if err := get(t, ns, naming.WorkloadSet(comp.Name, 2), &plinthv1.WorkloadSet{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (%v)", err)
		}
		return nil
	})

	want := []string{
		"grow|" + members(ns, comp.Name, 3) + "|3|2", // failed
		"grow|" + members(ns, comp.Name, 3) + "|3|2",
		"shrink|" + members(ns, comp.Name, 3) + "|2|2", // failed
		"shrink|" + members(ns, comp.Name, 3) + "|2|2",
	}
	if lines := logLines(t, reshardLog); strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("reshard actions ran as\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if lines := logLines(t, bootLog); len(lines) != 1 {
		t.Fatalf("the bootstrap action ran %d times, want once: %q", len(lines), lines)
	}
}
