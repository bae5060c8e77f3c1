package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// down stops every process of the cluster, removes its mounts, cgroups and
// network namespace and deletes the state dir. It is safe on a half-started
// cluster and on none at all.
func (c *Cluster) down() error {
	if os.Geteuid() != 0 {
		return errors.New("down needs root")
	}
	if err := c.checkOwner(); err != nil {
		return err
	}
	var errs []error
	// 1. The recorded processes, kubelet first so it stops restarting pods.
	order := []string{"kubelet", "apiserver-forward", "provisioner", "coredns", "kube-proxy", "kube-scheduler", "kube-controller-manager", "containerd", "kube-apiserver", "etcd", "node-ns"}
	var pids []int
	for _, name := range order {
		pid, err := readPID(c.pidFile(name))
		if err != nil || !c.alive(pid) {
			continue
		}
		pids = append(pids, pid)
		syscall.Kill(pid, syscall.SIGTERM)
		if name == "kubelet" {
			c.waitGone([]int{pid}, 5*time.Second)
		}
	}
	if left := c.waitGone(pids, 10*time.Second); len(left) > 0 {
		for _, pid := range left {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		c.waitGone(left, 5*time.Second)
	}
	// 2. Everything else in the cluster's cgroups: containers, shims, and any
	// process whose PID file was lost.
	if err := c.killCgroupTree(); err != nil {
		errs = append(errs, err)
	}
	// 3. Mounts under the state dir that leaked into the host namespace.
	if err := c.unmountUnder(c.State); err != nil {
		errs = append(errs, err)
	}
	// 4. cgroup folders, deepest first.
	if err := c.removeCgroups(); err != nil {
		errs = append(errs, err)
	}
	// 5. The network namespace (its bridge, veths and iptables rules go with it)
	// and pod namespaces the CNI left behind.
	if _, err := os.Stat(c.NetNS()); err == nil {
		if err := run("ip", "netns", "delete", c.Name); err != nil {
			errs = append(errs, err)
		}
	}
	if err := removeStaleCNINetns(); err != nil {
		errs = append(errs, err)
	}
	// 6. /var/lib/cni, if up had to create it (the node saw a tmpfs there).
	if _, err := os.Stat(c.path("created-var-lib-cni")); err == nil {
		if err := os.Remove("/var/lib/cni"); err != nil && !os.IsNotExist(err) {
			errs = append(errs, fmt.Errorf("removing /var/lib/cni, which up created: %w", err))
		}
	}
	// 7. The state dir.
	if len(errs) == 0 {
		if err := os.RemoveAll(c.State); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", c.State, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("down left something behind (run it again, or remove by hand): %w", err)
	}
	c.releaseOwner()
	logf("cluster %q is down", c.Name)
	return nil
}

// waitGone waits until none of pids is alive and returns those still alive.
func (c *Cluster) waitGone(pids []int, timeout time.Duration) []int {
	deadline := time.Now().Add(timeout)
	for {
		var left []int
		for _, p := range pids {
			if processExists(p) {
				left = append(left, p)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func processExists(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}

// cgroupDirs lists the cluster's cgroup folders in one hierarchy, deepest first.
func (c *Cluster) cgroupDirs(ctl string) []string {
	root := filepath.Join("/sys/fs/cgroup", ctl, c.CgroupRoot())
	var dirs []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
	return dirs
}

func (c *Cluster) cgroupPIDs() []int {
	seen := map[int]bool{}
	var pids []int
	for _, ctl := range []string{"pids", "freezer", "memory", "cpu", "unified"} {
		for _, d := range c.cgroupDirs(ctl) {
			f, err := os.Open(filepath.Join(d, "cgroup.procs"))
			if err != nil {
				continue
			}
			s := bufio.NewScanner(f)
			for s.Scan() {
				if pid, err := strconv.Atoi(strings.TrimSpace(s.Text())); err == nil && !seen[pid] {
					seen[pid] = true
					pids = append(pids, pid)
				}
			}
			f.Close()
		}
	}
	return pids
}

func (c *Cluster) killCgroupTree() error {
	// Thaw first: a frozen process cannot die.
	for _, d := range c.cgroupDirs("freezer") {
		os.WriteFile(filepath.Join(d, "freezer.state"), []byte("THAWED"), 0o644)
	}
	for attempt := 0; attempt < 50; attempt++ {
		pids := c.cgroupPIDs()
		if len(pids) == 0 {
			return nil
		}
		for _, p := range pids {
			syscall.Kill(p, syscall.SIGKILL)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("processes still in cgroup %s: %v", c.CgroupRoot(), c.cgroupPIDs())
}

func (c *Cluster) removeCgroups() error {
	ctrls, err := cgroupControllers()
	if err != nil {
		return err
	}
	var errs []error
	// runc also creates the containers' folders in the cgroup v2 hierarchy.
	if _, err := os.Stat("/sys/fs/cgroup/unified/cgroup.procs"); err == nil {
		ctrls = append(ctrls, "unified")
	}
	for _, ctl := range ctrls {
		for _, d := range c.cgroupDirs(ctl) {
			var err error
			for i := 0; i < 20; i++ {
				if err = syscall.Rmdir(d); err == nil || errors.Is(err, syscall.ENOENT) {
					err = nil
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}

// mountsUnder lists the host's mount points below dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func unescapeMount(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

func (c *Cluster) unmountUnder(dir string) error {
	var errs []error
	for _, mp := range mountsUnder(dir) {
		if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", mp, err))
		}
	}
	return errors.Join(errs...)
}

// removeStaleCNINetns removes /run/netns/cni-* files that are no longer
// mount points: namespaces of pods whose runtime is gone. Live ones (of some
// other runtime on the machine) are mount points and are kept.
func removeStaleCNINetns() error {
	files, _ := filepath.Glob("/run/netns/cni-*")
	if len(files) == 0 {
		return nil
	}
	mounted := map[string]bool{}
	for _, m := range mountsUnder("/run/netns") {
		mounted[m] = true
	}
	var errs []error
	for _, f := range files {
		if mounted[f] {
			continue
		}
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// status describes which parts of the cluster exist.
type status struct {
	procs map[string]int // running component -> pid
	dead  []string
}

func (s status) allRunning() bool { return len(s.dead) == 0 && len(s.procs) == len(components) }

func (c *Cluster) inspect() status {
	st := status{procs: map[string]int{}}
	for _, name := range components {
		pid, err := readPID(c.pidFile(name))
		if err == nil && c.alive(pid) {
			st.procs[name] = pid
		} else {
			st.dead = append(st.dead, name)
		}
	}
	return st
}

func (c *Cluster) printStatus() error {
	if !c.exists() {
		fmt.Printf("cluster %q: down (nothing on the machine)\n", c.Name)
		return nil
	}
	st := c.inspect()
	fmt.Printf("cluster %q  state %s\n", c.Name, c.State)
	for _, name := range components {
		if pid, ok := st.procs[name]; ok {
			fmt.Printf("  %-24s running  pid %d\n", name, pid)
		} else {
			fmt.Printf("  %-24s STOPPED  (log %s)\n", name, c.logFile(name))
		}
	}
	if _, ok := st.procs["kube-apiserver"]; ok {
		out, err := c.kubectl("", "get", "nodes", "-o", "wide")
		if err != nil {
			fmt.Printf("  nodes: %v\n", err)
		} else {
			fmt.Print(out)
		}
	}
	fmt.Printf("KUBECONFIG (host) %s\nKUBECONFIG (in namespace, for local-cluster exec) %s\n", c.HostKubeconfig(), c.Kubeconfig())
	if !st.allRunning() {
		return fmt.Errorf("cluster %q is not fully running (stopped: %s); run local-cluster up to restart it or down to remove it", c.Name, strings.Join(st.dead, ", "))
	}
	return nil
}
