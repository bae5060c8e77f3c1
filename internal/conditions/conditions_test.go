package conditions

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSetKeepsTransitionTimeUntilStatusChanges(t *testing.T) {
	var conds []metav1.Condition
	if !MarkFalse(&conds, 1, "Ready", "Creating", "pods are starting") {
		t.Fatal("first set reported no change")
	}
	first := Get(conds, "Ready").LastTransitionTime
	time.Sleep(1100 * time.Millisecond) // transition times have second precision

	if !MarkFalse(&conds, 2, "Ready", "MembersNotReady", "1/3 ready") {
		t.Fatal("new reason reported no change")
	}
	c := Get(conds, "Ready")
	if !c.LastTransitionTime.Equal(&first) || c.ObservedGeneration != 2 || c.Reason != "MembersNotReady" {
		t.Fatalf("same status must keep the transition time and update the rest: %+v", c)
	}
	if MarkFalse(&conds, 2, "Ready", "MembersNotReady", "1/3 ready") {
		t.Fatal("identical set reported a change")
	}
	MarkTrue(&conds, 2, "Ready", "Available", "")
	if c := Get(conds, "Ready"); c.LastTransitionTime.Equal(&first) || !IsTrue(conds, "Ready") || IsFalse(conds, "Ready") {
		t.Fatalf("status change must move the transition time: %+v", c)
	}
	if Get(conds, "Valid") != nil {
		t.Fatal("Get of a missing condition is not nil")
	}
}

func TestLongMessagesAreCut(t *testing.T) {
	var conds []metav1.Condition
	MarkUnknown(&conds, 1, "Ready", "Reconciling", strings.Repeat("x", 5000))
	if n := len(Get(conds, "Ready").Message); n != maxMessage {
		t.Fatalf("message length %d, want %d", n, maxMessage)
	}
}
