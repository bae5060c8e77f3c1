package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Network layout of the cluster's private network namespace. Nothing here is
// reachable from outside it: the namespace holds only lo and the bridge, with
// no default route.
const (
	bridgeName   = "cni0"
	bridgeIP     = "10.244.0.1"
	podCIDR      = "10.244.0.0/24"
	serviceCIDR  = "10.96.0.0/12"
	apiServiceIP = "10.96.0.1"
	dnsIP        = "10.96.0.10"
	clusterDNS   = "cluster.local"
	apiPort      = 6443
	nodeName     = "plinth-node"

	// storageClassName is the default StorageClass served by the hostPath provisioner.
	storageClassName = "plinth-hostpath"
	provisionerName  = "plinth.io/hostpath"
)

// Cluster holds the paths and names of one local cluster. Several clusters
// can live on one machine: each state dir (checkout) has its own name.
type Cluster struct {
	Name     string // network namespace and cgroup name
	Root     string // repository root
	State    string // state dir: deleted by down
	Cache    string // machine-wide cache (images, rootfs, binaries)
	Bin      string // bin/k8s of the repository: the pinned Kubernetes binaries
	HostPort int    // port on the host's 127.0.0.1 forwarded to the apiserver
}

func newCluster() (*Cluster, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	state := envOr("PLINTH_CLUSTER_STATE", filepath.Join(root, "hack", "local-cluster", "state"))
	if !filepath.IsAbs(state) {
		return nil, fmt.Errorf("PLINTH_CLUSTER_STATE=%q: want an absolute path", state)
	}
	// Each checkout gets its own cluster by default: the name (network
	// namespace, cgroup) and the host port derive from the state dir, so
	// two worktrees or a CI clone never touch each other's cluster.
	sum := sha256.Sum256([]byte(state))
	name := envOr("PLINTH_CLUSTER_NAME", "plinth-"+hex.EncodeToString(sum[:])[:6])
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') || len(name) > 20 {
			return nil, fmt.Errorf("PLINTH_CLUSTER_NAME=%q: want at most 20 characters of a-z, 0-9 and -", name)
		}
	}
	cache := os.Getenv("PLINTH_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, err
			}
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "plinth")
	}
	defPort := 20000 + int(binary.BigEndian.Uint16(sum[4:6]))%10000
	port, err := strconv.Atoi(envOr("PLINTH_CLUSTER_PORT", strconv.Itoa(defPort)))
	if err != nil || port < 1024 || port > 65535 {
		return nil, fmt.Errorf("PLINTH_CLUSTER_PORT=%q: want a port number from 1024 to 65535", os.Getenv("PLINTH_CLUSTER_PORT"))
	}
	return &Cluster{Name: name, Root: root, State: state, Cache: cache, Bin: filepath.Join(root, "bin", "k8s"), HostPort: port}, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// repoRoot finds the repository root: the folder holding go.work, walking up
// from the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "hack", "local-cluster")); err == nil {
				return d, nil
			}
		}
		if d == filepath.Dir(d) {
			return "", fmt.Errorf("run local-cluster inside the Plinth repository (no go.work with hack/local-cluster above %s)", dir)
		}
	}
}

func (c *Cluster) path(parts ...string) string {
	return filepath.Join(append([]string{c.State}, parts...)...)
}

// NetNS is the path of the cluster's network namespace.
func (c *Cluster) NetNS() string { return "/run/netns/" + c.Name }

// CgroupRoot is the kubelet's cgroupRoot; every process of the cluster lives
// below it, so down can find and stop all of them.
func (c *Cluster) CgroupRoot() string { return "/" + c.Name }

// Kubeconfig is the admin kubeconfig for clients inside the network namespace.
func (c *Cluster) Kubeconfig() string { return c.path("kubeconfig") }

// HostKubeconfig is the admin kubeconfig for clients on the host (through the
// loopback forwarder).
func (c *Cluster) HostKubeconfig() string { return c.path("kubeconfig-host") }

func (c *Cluster) bin(name string) string { return filepath.Join(c.Bin, name) }

func (c *Cluster) pidFile(name string) string { return c.path("pids", name+".pid") }

func (c *Cluster) logFile(name string) string { return c.path("logs", name+".log") }

// components lists every long-running process, in start order. down stops
// them in reverse.
var components = []string{"node-ns", "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "containerd", "kubelet", "kube-proxy", "coredns", "provisioner", "apiserver-forward"}

// cgroupControllers lists the cgroup v1 hierarchies mounted on this machine.
func cgroupControllers() ([]string, error) {
	entries, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n := e.Name()
		if n == "unified" {
			continue
		}
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", n, "cgroup.procs")); err == nil {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no cgroup v1 hierarchies under /sys/fs/cgroup: this tool expects a cgroup v1 machine")
	}
	return out, nil
}

func trimLines(b []byte) string { return strings.TrimSpace(string(b)) }

// ownerFile records which state dir owns the cluster name on this machine.
func (c *Cluster) ownerFile() string { return "/run/plinth-local-cluster/" + c.Name }

// checkOwner refuses to touch a cluster of the same name that another state
// dir (another checkout) runs.
func (c *Cluster) checkOwner() error {
	b, err := os.ReadFile(c.ownerFile())
	if err != nil {
		return nil
	}
	other := strings.TrimSpace(string(b))
	if other == c.State {
		return nil
	}
	if _, err := os.Stat(other); err != nil {
		return nil // that cluster's state is gone: a stale record
	}
	return fmt.Errorf("the cluster name %q belongs to the cluster with state dir %s: set PLINTH_CLUSTER_NAME to another name, or run down there", c.Name, other)
}

func (c *Cluster) claimOwner() error {
	if err := os.MkdirAll(filepath.Dir(c.ownerFile()), 0o755); err != nil {
		return err
	}
	return os.WriteFile(c.ownerFile(), []byte(c.State+"\n"), 0o644)
}

func (c *Cluster) releaseOwner() {
	os.Remove(c.ownerFile())
	os.Remove(filepath.Dir(c.ownerFile())) // only when empty
}
