// Command local-cluster runs a real single-node Kubernetes cluster on this
// machine without Docker: etcd, the control plane, containerd, kubelet,
// kube-proxy and CoreDNS, all inside a private network namespace with its own
// bridge, plus images built without a registry. See docs/local-cluster.md.
//
//	local-cluster up | down | status | kubeconfig [--inside]
//	local-cluster exec -- CMD [ARG...]          run CMD in the cluster's network namespace
//	local-cluster images build|load [IMAGE...]  build (and load into the cluster) local images
//	local-cluster images list
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

const usage = `usage: local-cluster COMMAND
  up                         start the cluster (idempotent; cleans a half-started one first)
  down                       stop everything and remove the cluster's state (idempotent)
  status                     show the cluster's processes and node
  kubeconfig [--inside]      print the kubeconfig path (for the host, or for use inside the namespace)
  exec -- CMD [ARG...]       run CMD inside the cluster's network namespace with KUBECONFIG set
  diagnose [DIR]             print the state of a (failing) cluster and the tails of its logs; copy the logs to DIR
  images list                list the local images and their names
  images build [IMAGE...]    build images into the machine-wide cache (default: all)
  images load [IMAGE...]     build and load images into the running cluster (default: all)
environment: PLINTH_CLUSTER_STATE (hack/local-cluster/state), PLINTH_CLUSTER_NAME and
PLINTH_CLUSTER_PORT (both derived from the state dir), PLINTH_CACHE`

func main() {
	if err := mainErr(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "local-cluster:", err)
		os.Exit(1)
	}
}

func signalNotify(ch chan os.Signal) { signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT) }

func mainErr(args []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// Helper processes started by up: they get the state dir, not the repository.
	switch args[0] {
	case "hold-namespace":
		return holdNamespace(args[1])
	case "provisioner":
		return runProvisioner(ctx, flagValue(args, "--state"))
	case "forward":
		c, err := clusterFromFlags(args)
		if err != nil {
			return err
		}
		return forward(ctx, fmt.Sprintf("127.0.0.1:%d", c.HostPort), fmt.Sprintf("127.0.0.1:%d", apiPort), nsDialer{c.NetNS()})
	}
	c, err := newCluster()
	if err != nil {
		return err
	}
	switch args[0] {
	case "up":
		if err := c.up(ctx); err != nil {
			return err
		}
		return c.saveInfo()
	case "down":
		return c.down()
	case "status":
		return c.printStatus()
	case "kubeconfig":
		if len(args) > 1 && args[1] == "--inside" {
			fmt.Println(c.Kubeconfig())
		} else {
			fmt.Println(c.HostKubeconfig())
		}
		return nil
	case "exec":
		rest := args[1:]
		if len(rest) > 0 && rest[0] == "--" {
			rest = rest[1:]
		}
		if len(rest) == 0 {
			return errors.New("exec: want a command: local-cluster exec -- CMD [ARG...]")
		}
		return c.exec(rest)
	case "images":
		return c.images(args[1:])
	case "diagnose":
		dir := ""
		if len(args) > 1 {
			dir = args[1]
		}
		return c.diagnose(dir)
	case "help", "-h", "--help":
		fmt.Println(usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// saveInfo records what helper processes need to know about the cluster.
func (c *Cluster) saveInfo() error {
	return os.WriteFile(c.path("cluster.env"), []byte(fmt.Sprintf("name=%s\nport=%d\n", c.Name, c.HostPort)), 0o644)
}

func clusterFromFlags(args []string) (*Cluster, error) {
	c := &Cluster{State: flagValue(args, "--state"), Name: flagValue(args, "--name")}
	if _, err := fmt.Sscanf(flagValue(args, "--port"), "%d", &c.HostPort); err != nil || c.State == "" || c.Name == "" {
		return nil, errors.New("forward: want --state DIR --name NAME --port PORT")
	}
	return c, nil
}

// exec runs argv inside the cluster's network namespace, with KUBECONFIG set
// and PATH holding the pinned kubectl.
func (c *Cluster) exec(argv []string) error {
	if _, err := os.Stat(c.Kubeconfig()); err != nil {
		return fmt.Errorf("cluster %q is not up (no %s): run local-cluster up", c.Name, c.Kubeconfig())
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return err
	}
	env := append(os.Environ(), "KUBECONFIG="+c.Kubeconfig(), "PATH="+c.Bin+":"+os.Getenv("PATH"), "PLINTH_CLUSTER_STATE="+c.State)
	return syscall.Exec(nsenter, append([]string{"nsenter", "--net=" + c.NetNS(), "--"}, argv...), env)
}

func (c *Cluster) images(args []string) error {
	if len(args) == 0 {
		return errors.New("images: want list, build or load")
	}
	var refs []string
	for _, a := range args[1:] {
		r, err := resolveImage(a)
		if err != nil {
			return err
		}
		refs = append(refs, r)
	}
	if len(refs) == 0 {
		refs = imageNames()
	}
	switch args[0] {
	case "list":
		for _, r := range imageNames() {
			mirror := ""
			if strings.HasPrefix(r, mirrorPrefix) {
				mirror = "  (mirrors " + officialPrefix + strings.TrimPrefix(r, mirrorPrefix) + ")"
			}
			fmt.Printf("%s%s\n", r, mirror)
		}
		return nil
	case "build":
		for _, r := range refs {
			if _, err := c.buildImage(r); err != nil {
				return err
			}
		}
		return nil
	case "load":
		start := time.Now()
		loaded := map[string]bool{}
		for _, r := range refs {
			archive, err := c.buildImage(r)
			if err != nil {
				return err
			}
			if loaded[archive] { // several tags share one archive
				continue
			}
			loaded[archive] = true
			if err := c.importImage(r, archive); err != nil {
				return err
			}
		}
		logf("images loaded in %.1fs", time.Since(start).Seconds())
		return nil
	}
	return fmt.Errorf("images: unknown command %q", args[0])
}
