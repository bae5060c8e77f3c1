package naming

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestNamesAreDNSLabels(t *testing.T) {
	app := strings.Repeat("a", 63-len("redis")-1-len("-headless"))
	if err := CheckComponent(app, "redis", 1); err != nil {
		t.Fatalf("longest allowed name refused: %v", err)
	}
	c := Component(app, "redis")
	// Pods (host names) and Services must be DNS labels.
	for _, n := range []string{c, HeadlessService(c), Pod(WorkloadSet(c, -1), 1023)} {
		if errs := validation.IsDNS1123Label(n); len(errs) > 0 {
			t.Errorf("%q: %v", n, errs)
		}
	}
	// ConfigMaps, Secrets and ServiceAccounts must be DNS subdomains.
	for _, n := range []string{ConfigMap(c), AgentIdentity(c), AgentTLSSecret(c), CredentialsSecret(app), AgentCASecret(app), AgentClientSecret(app)} {
		if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
			t.Errorf("%q: %v", n, errs)
		}
	}
	err := CheckComponent(app+"b", "redis", 1)
	if err == nil || !strings.Contains(err.Error(), "at most 48 characters") {
		t.Fatalf("one character too long: %v", err)
	}
	// Shards need room for "-<shard>-<ordinal>".
	short := strings.Repeat("s", 63-len("redis")-1-len("-127-1023"))
	if err := CheckComponent(short, "redis", 128); err != nil {
		t.Fatal(err)
	}
	if errs := validation.IsDNS1123Label(Pod(WorkloadSet(Component(short, "redis"), 127), 1023)); len(errs) > 0 {
		t.Fatal(errs)
	}
	if err := CheckComponent(short+"s", "redis", 128); err == nil {
		t.Fatal("too long for 128 shards, accepted")
	}
}

func TestLayout(t *testing.T) {
	if got := Pod(WorkloadSet(Component("cache", "redis"), 2), 1); got != "cache-redis-2-1" {
		t.Fatal(got)
	}
	if got := PVC("data", Pod(WorkloadSet(Component("db", "postgresql"), -1), 0)); got != "data-db-postgresql-0" {
		t.Fatal(got)
	}
}
