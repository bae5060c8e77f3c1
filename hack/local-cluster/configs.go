package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// writeConfigs renders the configuration files of every component into the
// state dir.
func (c *Cluster) writeConfigs() error {
	pkiDir := c.path("pki")
	files := map[string]string{
		"kubeconfig":                          kubeconfig(pkiDir, "admin", fmt.Sprintf("https://127.0.0.1:%d", apiPort)),
		"kubeconfig-host":                     kubeconfig(pkiDir, "admin", fmt.Sprintf("https://127.0.0.1:%d", c.HostPort)),
		"kubeconfigs/kube-controller-manager": kubeconfig(pkiDir, "kube-controller-manager", fmt.Sprintf("https://127.0.0.1:%d", apiPort)),
		"kubeconfigs/kube-scheduler":          kubeconfig(pkiDir, "kube-scheduler", fmt.Sprintf("https://127.0.0.1:%d", apiPort)),
		"kubeconfigs/kube-proxy":              kubeconfig(pkiDir, "kube-proxy", fmt.Sprintf("https://127.0.0.1:%d", apiPort)),
		"kubeconfigs/kubelet":                 kubeconfig(pkiDir, "kubelet", fmt.Sprintf("https://127.0.0.1:%d", apiPort)),
		"containerd/config.toml":              c.containerdConfig(),
		"cni/net.d/10-plinth.conflist":        c.cniConfig(),
		"kubelet/config.yaml":                 c.kubeletConfig(),
		"kubelet/resolv.conf":                 "",
		"kube-proxy/config.yaml":              c.kubeProxyConfig(),
		"coredns/Corefile":                    c.corefile(),
	}
	for name, content := range files {
		p := c.path(name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) containerdConfig() string {
	return fmt.Sprintf(`version = 2
root = "%[1]s/containerd/root"
state = "%[1]s/containerd/state"
# The host may run its own containerd; this one has its own socket and folders.
[grpc]
  address = "%[1]s/containerd/containerd.sock"
[ttrpc]
  address = "%[1]s/containerd/containerd.sock.ttrpc"
[debug]
  level = "info"
[plugins."io.containerd.internal.v1.opt"]
  path = "%[1]s/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "%[2]s"
  # This machine lacks CAP_SYS_RESOURCE: runc cannot raise oom_score_adj.
  restrict_oom_score_adj = true
  max_container_log_line_size = 16384
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    discard_unpacked_layers = false
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "%[1]s/cni/net.d"
`, c.State, pauseImage)
}

func (c *Cluster) cniConfig() string {
	return fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": "plinth-%[1]s",
  "plugins": [
    {
      "type": "bridge",
      "bridge": %[2]q,
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": %[3]q, "gateway": %[4]q}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "%[5]s/cni/ipam"
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, c.Name, bridgeName, podCIDR, bridgeIP, c.State)
}

func (c *Cluster) kubeletConfig() string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine is cgroup v1.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: %[1]s
containerRuntimeEndpoint: unix://%[2]s/containerd/containerd.sock
address: %[3]s
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: %[2]s/pki/kubelet-serving.crt
tlsPrivateKeyFile: %[2]s/pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %[2]s/pki/ca.crt}
authorization:
  mode: Webhook
clusterDNS: [%[4]s]
clusterDomain: %[5]s
resolvConf: %[2]s/kubelet/resolv.conf
podLogsDir: %[2]s/pod-logs
failSwapOn: false
# The images are imported, not pulled: never garbage-collect them, and do not
# evict pods because the shared build disk is fuller than a node's would be.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%%
  imagefs.available: 1%%
  nodefs.inodesFree: 1%%
serializeImagePulls: false
syncFrequency: 10s
fileCheckFrequency: 10s
nodeStatusReportFrequency: 10s
`, c.CgroupRoot(), c.State, bridgeIP, dnsIP, clusterDNS)
}

func (c *Cluster) kubeProxyConfig() string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: %[1]s/kubeconfigs/kube-proxy
hostnameOverride: %[2]s
mode: iptables
clusterCIDR: %[3]s
bindAddress: 0.0.0.0
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
iptables:
  # Pod to ClusterIP to a pod on the same bridge: SNAT keeps replies symmetric.
  masqueradeAll: true
  syncPeriod: 10s
  minSyncPeriod: 0s
conntrack:
  # nf_conntrack_max is machine-wide: leave it alone.
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`, c.State, nodeName, podCIDR)
}

func (c *Cluster) corefile() string {
	return fmt.Sprintf(`.:53 {
    bind %[1]s
    errors
    ready 127.0.0.1:8181
    kubernetes %[2]s in-addr.arpa ip6.arpa {
        kubeconfig %[3]s
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    cache 5
}
`, dnsIP, clusterDNS, c.Kubeconfig())
}

// storageClassYAML is the default StorageClass served by the provisioner.
func storageClassYAML() string {
	return strings.TrimSpace(fmt.Sprintf(`
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: %s
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: %s
reclaimPolicy: Delete
volumeBindingMode: Immediate
allowVolumeExpansion: true
`, storageClassName, provisionerName)) + "\n"
}
