package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sysctls the kubelet insists on. They are machine-wide, so the node's
// private mount namespace gets files holding these values bind-mounted over
// /proc/sys; the real kernel settings stay untouched.
var kubeletSysctls = map[string]string{
	"vm/overcommit_memory":      "1",
	"vm/panic_on_oom":           "0",
	"kernel/panic":              "10",
	"kernel/panic_on_oops":      "1",
	"kernel/keys/root_maxkeys":  "1000000",
	"kernel/keys/root_maxbytes": "25000000",
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "local-cluster: "+format+"\n", args...)
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, trimLines(out))
	}
	return nil
}

// up brings the cluster up; a running healthy cluster is left as it is, and
// the leftovers of a half-started or crashed one are removed first.
func (c *Cluster) up(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return errors.New("up needs root (network namespaces, cgroups, mounts)")
	}
	start := time.Now()
	if err := c.checkOwner(); err != nil {
		return err
	}
	if st := c.inspect(); st.allRunning() {
		if err := c.waitNodeReady(ctx, 60*time.Second); err == nil {
			logf("cluster %q is already up; KUBECONFIG=%s", c.Name, c.HostKubeconfig())
			return nil
		}
		logf("cluster %q runs but its node is not Ready: restarting it", c.Name)
	}
	if c.exists() {
		logf("cleaning the leftovers of an earlier cluster %q", c.Name)
		if err := c.down(); err != nil {
			return fmt.Errorf("cleaning up before up: %w", err)
		}
	}
	if err := c.prepareHost(); err != nil {
		return err
	}
	if err := c.claimOwner(); err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			logf("up failed: logs are in %s (run \"local-cluster down\" to remove the half-started cluster)", c.path("logs"))
		}
	}()
	for _, d := range []string{"pids", "logs", "etcd", "volumes", "bin", "kubelet/root", "pod-logs", "varlog", "sysctl", "containerd", "cni/ipam"} {
		if err := os.MkdirAll(c.path(d), 0o755); err != nil {
			return err
		}
	}
	if err := c.installSelf(); err != nil {
		return err
	}
	if err := writePKI(c.path("pki")); err != nil {
		return fmt.Errorf("creating certificates: %w", err)
	}
	if err := c.writeConfigs(); err != nil {
		return err
	}
	if err := c.setupNetwork(); err != nil {
		return err
	}
	if err := c.setupCgroups(); err != nil {
		return err
	}
	if err := c.startControlPlane(ctx); err != nil {
		return err
	}
	if err := c.startNode(ctx); err != nil {
		return err
	}
	if err := c.waitNodeReady(ctx, 120*time.Second); err != nil {
		return err
	}
	if err := c.kubectlApply(storageClassYAML()); err != nil {
		return fmt.Errorf("creating the default StorageClass: %w", err)
	}
	ok = true
	logf("cluster %q is up: node %s Ready after %.1fs", c.Name, nodeName, time.Since(start).Seconds())
	logf("  export KUBECONFIG=%s", c.HostKubeconfig())
	return nil
}

// exists reports whether anything of the cluster is on the machine.
func (c *Cluster) exists() bool {
	if _, err := os.Stat(c.State); err == nil {
		return true
	}
	if _, err := os.Stat(c.NetNS()); err == nil {
		return true
	}
	ctrls, _ := cgroupControllers()
	for _, ctl := range ctrls {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", ctl, c.CgroupRoot())); err == nil {
			return true
		}
	}
	return false
}

// prepareHost checks the tools and binaries the cluster needs.
func (c *Cluster) prepareHost() error {
	for _, t := range []string{"nsenter", "unshare", "ip", "iptables", "conntrack", "containerd", "runc", "ctr", "mount"} {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Errorf("%s is missing: run hack/install-deps.sh cluster", t)
		}
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		return errors.New("the CNI plugins are missing (/usr/lib/cni/bridge): run hack/install-deps.sh cluster")
	}
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl", "coredns"} {
		if _, err := os.Stat(c.bin(b)); err != nil {
			return fmt.Errorf("%s is missing in %s: run hack/build-kube.sh %s", b, c.Bin, b)
		}
	}
	if _, err := os.Stat(c.imageArchive(pauseImage)); err != nil {
		return fmt.Errorf("the pause image is not built: run local-cluster images build pause")
	}
	return nil
}

// installSelf copies this binary into the state dir: the long-running helper
// processes (node namespace, provisioner, forwarder) run from that copy, so
// rebuilding bin/local-cluster does not touch them.
func (c *Cluster) installSelf() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	in, err := os.Open(self)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(c.self(), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func (c *Cluster) self() string { return c.path("bin", "local-cluster") }

func (c *Cluster) setupNetwork() error {
	ns := c.Name
	steps := [][]string{
		{"netns", "add", ns},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "link", "add", bridgeName, "type", "bridge"},
		{"-n", ns, "addr", "add", bridgeIP + "/24", "dev", bridgeName},
		// The dummy module is missing: the cluster DNS address lives on the bridge.
		{"-n", ns, "addr", "add", dnsIP + "/32", "dev", bridgeName},
		{"-n", ns, "link", "set", bridgeName, "up"},
		// Clients in the namespace (tests, kubectl) reach ClusterIPs through kube-proxy's rules.
		{"-n", ns, "route", "add", serviceCIDR, "dev", bridgeName, "src", bridgeIP},
	}
	for _, s := range steps {
		if err := run("ip", s...); err != nil {
			return fmt.Errorf("setting up the network namespace: %w", err)
		}
	}
	for k, v := range map[string]string{
		"net/ipv4/ip_forward":                 "1",
		"net/bridge/bridge-nf-call-iptables":  "1",
		"net/bridge/bridge-nf-call-ip6tables": "1",
		"net/ipv4/conf/all/route_localnet":    "1",
	} {
		// /proc/sys/net is per network namespace: write it from inside.
		if err := run("nsenter", "--net="+c.NetNS(), "sh", "-c", "echo "+v+" > /proc/sys/"+k); err != nil {
			if strings.HasPrefix(k, "net/bridge") {
				logf("warning: %s not set (br_netfilter missing?): %v", k, err)
				continue
			}
			return err
		}
	}
	return nil
}

func (c *Cluster) setupCgroups() error {
	ctrls, err := cgroupControllers()
	if err != nil {
		return err
	}
	for _, ctl := range ctrls {
		for _, sub := range []string{c.CgroupRoot(), c.CgroupRoot() + "/system"} {
			dir := filepath.Join("/sys/fs/cgroup", ctl, sub)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("creating cgroup %s: %w", dir, err)
			}
			if ctl == "cpuset" {
				for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
					b, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
					if err != nil {
						return err
					}
					if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
						return fmt.Errorf("writing %s/%s: %w", dir, f, err)
					}
				}
			}
		}
	}
	return nil
}

type nsMode int

const (
	inHost nsMode = iota // the host's namespaces
	inNet                // the cluster's network namespace
	inNode               // network namespace + the node's private mount namespace
)

// start launches a component in the background with its output in logs/,
// records its PID and puts it into the cluster's "system" pids cgroup, where
// down finds it and everything it forks.
func (c *Cluster) start(name string, mode nsMode, argv ...string) (int, error) {
	var full []string
	switch mode {
	case inNet:
		full = append([]string{"nsenter", "--net=" + c.NetNS(), "--"}, argv...)
	case inNode:
		holder, err := readPID(c.pidFile("node-ns"))
		if err != nil {
			return 0, fmt.Errorf("the node mount namespace is not running: %w", err)
		}
		full = append([]string{"nsenter", "--net=" + c.NetNS(), fmt.Sprintf("--mount=/proc/%d/ns/mnt", holder), "--"}, argv...)
	default:
		full = argv
	}
	logFile, err := os.OpenFile(c.logFile(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer logFile.Close()
	cmd := exec.Command(full[0], full[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = c.State
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting %s: %w", name, err)
	}
	pid := cmd.Process.Pid
	if err := os.WriteFile(c.pidFile(name), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return 0, err
	}
	for _, ctl := range []string{"pids", "freezer"} {
		procs := filepath.Join("/sys/fs/cgroup", ctl, c.CgroupRoot(), "system", "cgroup.procs")
		if err := os.WriteFile(procs, []byte(strconv.Itoa(pid)), 0o644); err != nil {
			logf("warning: cannot put %s (pid %d) into %s: %v", name, pid, procs, err)
		}
	}
	go cmd.Wait() // reap it if it dies while we run
	return pid, nil
}

// waitFor polls check until it succeeds, the component dies, or timeout.
func (c *Cluster) waitFor(ctx context.Context, name string, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if last = check(); last == nil {
			return nil
		}
		// A process this run just started: whether it still runs (its
		// command line may not be its own yet, see running).
		if pid, err := readPID(c.pidFile(name)); err == nil && !running(pid) {
			return fmt.Errorf("%s exited; last lines of %s:\n%s", name, c.logFile(name), tail(c.logFile(name), 15))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %v; last lines of %s:\n%s", name, timeout, last, c.logFile(name), tail(c.logFile(name), 15))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (c *Cluster) tlsClient(user string) (*http.Client, error) {
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(c.path("pki", "ca.crt"))
	if err != nil {
		return nil, err
	}
	pool.AppendCertsFromPEM(ca)
	cert, err := tls.LoadX509KeyPair(c.path("pki", user+".crt"), c.path("pki", user+".key"))
	if err != nil {
		return nil, err
	}
	d := nsDialer{c.NetNS()}
	return &http.Client{Transport: &http.Transport{
		DialContext:     d.DialContext,
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}},
	}}, nil
}

func (c *Cluster) httpOK(url string, client *http.Client) func() error {
	return func() error {
		code, body, err := nsDialer{c.NetNS()}.httpGet(url, client)
		if err != nil {
			return err
		}
		if code != 200 {
			return fmt.Errorf("GET %s: %d %s", url, code, strings.TrimSpace(body))
		}
		return nil
	}
}

func (c *Cluster) startControlPlane(ctx context.Context) error {
	pki := c.path("pki")
	if _, err := c.start("etcd", inNet, c.bin("etcd"),
		"--name=plinth", "--data-dir="+c.path("etcd"),
		"--listen-client-urls=http://127.0.0.1:2379", "--advertise-client-urls=http://127.0.0.1:2379",
		"--listen-peer-urls=http://127.0.0.1:2380", "--initial-advertise-peer-urls=http://127.0.0.1:2380",
		"--initial-cluster=plinth=http://127.0.0.1:2380", "--listen-metrics-urls=http://127.0.0.1:2381",
		// A throw-away test cluster: no fsync, the disk is shared with builds.
		"--unsafe-no-fsync", "--quota-backend-bytes=4294967296", "--log-level=warn"); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "etcd", 60*time.Second, c.httpOK("http://127.0.0.1:2381/health", nil)); err != nil {
		return err
	}
	if _, err := c.start("kube-apiserver", inNet, c.bin("kube-apiserver"),
		"--etcd-servers=http://127.0.0.1:2379",
		"--bind-address=0.0.0.0", fmt.Sprintf("--secure-port=%d", apiPort), "--advertise-address="+bridgeIP,
		"--service-cluster-ip-range="+serviceCIDR,
		"--tls-cert-file="+pki+"/apiserver.crt", "--tls-private-key-file="+pki+"/apiserver.key",
		"--client-ca-file="+pki+"/ca.crt",
		"--kubelet-client-certificate="+pki+"/apiserver-kubelet-client.crt", "--kubelet-client-key="+pki+"/apiserver-kubelet-client.key",
		// logs, exec and port-forward reach the kubelet by its address: the node
		// name is not in any resolver inside the private network namespace.
		"--kubelet-preferred-address-types=InternalIP,Hostname",
		"--service-account-key-file="+pki+"/sa.pub", "--service-account-signing-key-file="+pki+"/sa.key",
		"--service-account-issuer=https://kubernetes.default.svc."+clusterDNS,
		"--authorization-mode=Node,RBAC", "--allow-privileged=true",
		"--enable-admission-plugins=NodeRestriction", "--profiling=false", "--v=1"); err != nil {
		return err
	}
	admin, err := c.tlsClient("admin")
	if err != nil {
		return err
	}
	if err := c.waitFor(ctx, "kube-apiserver", 90*time.Second, c.httpOK(fmt.Sprintf("https://127.0.0.1:%d/readyz", apiPort), admin)); err != nil {
		return err
	}
	if _, err := c.start("kube-controller-manager", inNet, c.bin("kube-controller-manager"),
		"--kubeconfig="+c.path("kubeconfigs/kube-controller-manager"),
		"--authentication-kubeconfig="+c.path("kubeconfigs/kube-controller-manager"),
		"--authorization-kubeconfig="+c.path("kubeconfigs/kube-controller-manager"),
		"--service-account-private-key-file="+pki+"/sa.key", "--root-ca-file="+pki+"/ca.crt",
		"--use-service-account-credentials=true", "--leader-elect=false",
		"--bind-address=127.0.0.1", "--allocate-node-cidrs=false",
		"--cluster-signing-cert-file="+pki+"/ca.crt", "--cluster-signing-key-file="+pki+"/ca.key",
		"--controllers=*", "--v=1"); err != nil {
		return err
	}
	if _, err := c.start("kube-scheduler", inNet, c.bin("kube-scheduler"),
		"--kubeconfig="+c.path("kubeconfigs/kube-scheduler"),
		"--authentication-kubeconfig="+c.path("kubeconfigs/kube-scheduler"),
		"--authorization-kubeconfig="+c.path("kubeconfigs/kube-scheduler"),
		"--leader-elect=false", "--bind-address=127.0.0.1", "--v=1"); err != nil {
		return err
	}
	return nil
}

func (c *Cluster) startNode(ctx context.Context) error {
	// The node's private mount namespace: sysctl files, and fresh tmpfs over
	// the folders containerd and the CNI plugins would otherwise leave files
	// in on the host. Everything mounted in it disappears with it.
	var script strings.Builder
	script.WriteString("set -e\n")
	keys := make([]string, 0, len(kubeletSysctls))
	for k := range kubeletSysctls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		f := c.path("sysctl", strconv.Itoa(i))
		if err := os.WriteFile(f, []byte(kubeletSysctls[k]+"\n"), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(&script, "if [ -e /proc/sys/%[1]s ]; then mount --bind %[2]s /proc/sys/%[1]s; fi\n", k, f)
	}
	fmt.Fprintf(&script, "mount -t tmpfs -o mode=755 plinth-run /run/netns\n")
	fmt.Fprintf(&script, "mkdir -p /run/containerd && mount -t tmpfs -o mode=711 plinth-run /run/containerd\n")
	fmt.Fprintf(&script, "mount --bind %s /var/log\n", c.path("varlog"))
	// libcni caches results in /var/lib/cni (not configurable in containerd 1.6).
	if _, err := os.Stat("/var/lib/cni"); os.IsNotExist(err) {
		if err := os.WriteFile(c.path("created-var-lib-cni"), nil, 0o644); err != nil {
			return err
		}
		if err := os.MkdirAll("/var/lib/cni", 0o700); err != nil {
			return err
		}
	}
	fmt.Fprintf(&script, "mount -t tmpfs -o mode=700 plinth-cni /var/lib/cni\n")
	fmt.Fprintf(&script, "exec %s hold-namespace %s\n", c.self(), c.State)
	if _, err := c.start("node-ns", inHost, "unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script.String()); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "node-ns", 10*time.Second, func() error {
		_, err := os.Stat(c.path("node-ns.ready"))
		return err
	}); err != nil {
		return err
	}

	if _, err := c.start("containerd", inNode, "containerd", "--config", c.path("containerd/config.toml")); err != nil {
		return err
	}
	sock := c.path("containerd/containerd.sock")
	if err := c.waitFor(ctx, "containerd", 30*time.Second, func() error {
		return run("ctr", "--address", sock, "version")
	}); err != nil {
		return err
	}
	if err := c.importImage(pauseImage, c.imageArchive(pauseImage)); err != nil {
		return err
	}
	if _, err := c.start("kubelet", inNode, c.bin("kubelet"),
		"--config="+c.path("kubelet/config.yaml"),
		"--kubeconfig="+c.path("kubeconfigs/kubelet"),
		"--root-dir="+c.path("kubelet/root"),
		"--cert-dir="+c.path("kubelet/pki"),
		"--hostname-override="+nodeName, "--node-ip="+bridgeIP, "--v=1"); err != nil {
		return err
	}
	if _, err := c.start("kube-proxy", inNet, c.bin("kube-proxy"), "--config="+c.path("kube-proxy/config.yaml"), "--v=1"); err != nil {
		return err
	}
	if _, err := c.start("coredns", inNet, c.bin("coredns"), "-conf", c.path("coredns/Corefile")); err != nil {
		return err
	}
	if _, err := c.start("provisioner", inNet, c.self(), "provisioner", "--state", c.State); err != nil {
		return err
	}
	if _, err := c.start("apiserver-forward", inHost, c.self(), "forward", "--state", c.State, "--name", c.Name, "--port", strconv.Itoa(c.HostPort)); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "coredns", 60*time.Second, c.httpOK("http://127.0.0.1:8181/ready", nil)); err != nil {
		return err
	}
	return nil
}

// kubectl runs the pinned kubectl inside the network namespace.
func (c *Cluster) kubectl(stdin string, args ...string) (string, error) {
	full := append([]string{"--net=" + c.NetNS(), "--", c.bin("kubectl"), "--kubeconfig=" + c.Kubeconfig()}, args...)
	cmd := exec.Command("nsenter", full...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, trimLines(out))
	}
	return string(out), nil
}

func (c *Cluster) kubectlApply(manifest string) error {
	_, err := c.kubectl(manifest, "apply", "--server-side", "--field-manager=local-cluster", "-f", "-")
	return err
}

func (c *Cluster) waitNodeReady(ctx context.Context, timeout time.Duration) error {
	return c.waitFor(ctx, "kubelet", timeout, func() error {
		out, err := c.kubectl("", "get", "node", nodeName, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		if err != nil {
			return err
		}
		if strings.TrimSpace(out) != "True" {
			return fmt.Errorf("node %s Ready=%q", nodeName, strings.TrimSpace(out))
		}
		return nil
	})
}

// holdNamespace keeps the node's mount namespace alive until it is signalled.
func holdNamespace(state string) error {
	if err := os.WriteFile(filepath.Join(state, "node-ns.ready"), nil, 0o644); err != nil {
		return err
	}
	ch := make(chan os.Signal, 1)
	signalNotify(ch)
	<-ch
	return nil
}

func readPID(file string) (int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// alive reports whether pid runs and is one of this cluster's processes (its
// command line names the state dir), so a recycled PID is never signalled.
func (c *Cluster) alive(pid int) bool {
	if !running(pid) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && strings.Contains(string(b), c.State)
}

// running says whether process pid exists and is not a zombie. Unlike alive
// it does not look at the command line, which is still this program's own
// between the fork and the exec of a process just started (a window that
// grows long on a loaded machine).
func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil || len(stat) == 0 {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(string(stat[i+1:]))
	return len(f) > 0 && f[0] != "Z"
}

func tail(file string, n int) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		lines = append(lines, s.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
