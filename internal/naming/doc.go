// Package naming derives the names of every object Plinth creates for an
// Application, so that each controller finds the others' objects by name
// without reading them first. All names are DNS-1123 labels (at most 63
// characters), because Pod names become host names and Services need labels.
//
//	Component            <app>-<componentDef>              cache-redis
//	WorkloadSet          <component>, or <component>-<shard> for sharded components
//	Pod                  <workloadset>-<ordinal>            cache-redis-0
//	PVC                  <volume>-<pod>                     data-cache-redis-0
//	client Service       <component>                        cache-redis
//	headless Service     <component>-headless
//	role Service         <component>-<service>              cache-redis-rw
//	config ConfigMap     <component>-config
//	agents' identity     <component>-agent                  (ServiceAccount, Role, RoleBinding)
//	agents' server cert  <component>-agent-tls              (Secret: ca.crt, tls.crt, tls.key)
//	credentials Secret   <app>-credentials
//	agents' CA           <app>-agent-ca                     (Secret: ca.crt, ca.key)
//	controllers' cert    <app>-agent-client                 (Secret: ca.crt, tls.crt, tls.key)
package naming
