package naming

import (
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation"
)

// ordinalRoom is the room kept for "-<ordinal>" (a WorkloadSet has at most 1024 pods).
const ordinalRoom = len("-1023")

// Component is the Component of componentDef in app.
func Component(app, componentDef string) string { return app + "-" + componentDef }

// WorkloadSet is the WorkloadSet of a component; shard < 0 means unsharded.
func WorkloadSet(component string, shard int32) string {
	if shard < 0 {
		return component
	}
	return component + "-" + strconv.Itoa(int(shard))
}

// Pod is the Pod with ordinal in a WorkloadSet.
func Pod(workloadSet string, ordinal int32) string {
	return workloadSet + "-" + strconv.Itoa(int(ordinal))
}

// PVC is the claim of volume for pod.
func PVC(volume, pod string) string { return volume + "-" + pod }

// ClientService is the component's client Service.
func ClientService(component string) string { return component }

// HeadlessService gives each pod a stable DNS name.
func HeadlessService(component string) string { return component + "-headless" }

// RoleService is a plugin-declared Service of the component (rw, ro ...).
func RoleService(component, service string) string { return component + "-" + service }

// ConfigMap holds the component's rendered configuration files.
func ConfigMap(component string) string { return component + "-config" }

// AgentIdentity names the agents' ServiceAccount, Role and RoleBinding.
func AgentIdentity(component string) string { return component + "-agent" }

// AgentTLSSecret holds the agents' server certificate.
func AgentTLSSecret(component string) string { return component + "-agent-tls" }

// CredentialsSecret holds the Application's generated passwords.
func CredentialsSecret(app string) string { return app + "-credentials" }

// AgentCASecret holds the Application's CA for the agents' mutual TLS.
func AgentCASecret(app string) string { return app + "-agent-ca" }

// AgentClientSecret holds the client certificate controllers present to agents.
func AgentClientSecret(app string) string { return app + "-agent-client" }

// CheckComponent says whether every name derived from app and componentDef
// fits in a DNS label, with room for shard numbers, ordinals and suffixes.
func CheckComponent(app, componentDef string, shards int32) error {
	tail := len("-headless")
	if shards > 1 {
		tail = max(tail, len("-"+strconv.Itoa(int(shards-1)))+ordinalRoom)
	} else {
		tail = max(tail, ordinalRoom)
	}
	limit := validation.DNS1123LabelMaxLength - len(componentDef) - 1 - tail
	if len(app) > limit {
		return fmt.Errorf("the Application name %q is too long: with component %q, pod and Service names would exceed 63 characters; use a name of at most %d characters", app, componentDef, limit)
	}
	return nil
}
