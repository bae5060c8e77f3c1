package ctrlmanager_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/plinth-io/plinth/internal/ctrlmanager"
	"github.com/plinth-io/plinth/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env)) }

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func startManager(t *testing.T, name string) (manager.Manager, string, context.CancelFunc) {
	t.Helper()
	o := ctrlmanager.NewOptions(name)
	o.MetricsAddr = "0"
	o.HealthAddr = freeAddr(t)
	o.LeaderElect = true
	o.LeaderElectionNamespace = "default"
	o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = 4*time.Second, 3*time.Second, 500*time.Millisecond
	o.Workers, o.ReconcileTimeout, o.QPS, o.Burst = 2, time.Minute, 50, 100
	o.BackoffBase, o.BackoffMax = time.Second, time.Minute
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	mgr, err := o.New(env.Config, env.Scheme)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager %s: %v", name, err)
		}
	})
	return mgr, o.HealthAddr, cancel
}

func elected(mgr manager.Manager, within time.Duration) bool {
	select {
	case <-mgr.Elected():
		return true
	case <-time.After(within):
		return false
	}
}

// Two replicas of one controller: one leads, the other takes over when it goes.
func TestLeaderElectionHandover(t *testing.T) {
	name := "handover-controller"
	first, healthAddr, stopFirst := startManager(t, name)
	if !elected(first, 30*time.Second) {
		t.Fatal("first replica never became leader")
	}
	second, _, _ := startManager(t, name)
	if elected(second, 2*time.Second) {
		t.Fatal("second replica became leader while the first holds the Lease")
	}

	lease := &coordinationv1.Lease{}
	key := types.NamespacedName{Namespace: "default", Name: name + ".plinth.io"}
	if err := env.Client.Get(context.Background(), key, lease); err != nil {
		t.Fatalf("the controller's own Lease %s: %v", key, err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
		t.Fatal("Lease has no holder")
	}

	resp, err := http.Get(fmt.Sprintf("http://%s/healthz", healthAddr))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz = %d", resp.StatusCode)
	}

	stopFirst()
	if !elected(second, 30*time.Second) {
		t.Fatal("second replica did not take over after the first stopped")
	}
}

// Different controllers hold different Leases: one never waits for another.
func TestControllersHaveTheirOwnLease(t *testing.T) {
	a, _, _ := startManager(t, "lease-a-controller")
	b, _, _ := startManager(t, "lease-b-controller")
	if !elected(a, 30*time.Second) || !elected(b, 30*time.Second) {
		t.Fatal("both controllers should lead their own Lease at once")
	}
}
