package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// diagnose prints what a failed test run needs to be understood after down
// has removed the cluster: the processes, the cluster's objects and events,
// and the tail of every component log; with dir, it copies the logs there.
func (c *Cluster) diagnose(dir string) error {
	if !c.exists() {
		fmt.Printf("cluster %q: nothing to diagnose (it is down)\n", c.Name)
		return nil
	}
	if err := c.printStatus(); err != nil {
		fmt.Println(err)
	}
	if st := c.inspect(); st.procs["kube-apiserver"] != 0 {
		for _, args := range [][]string{
			{"get", "pods", "-A", "-o", "wide"},
			{"get", "pvc,pv", "-A"},
			{"get", "events", "-A", "--sort-by=.lastTimestamp"},
		} {
			out, err := c.kubectl("", args...)
			fmt.Printf("\n$ kubectl %v\n%s", args, out)
			if err != nil {
				fmt.Println(err)
			}
		}
	}
	logs, _ := filepath.Glob(c.path("logs", "*.log"))
	for _, l := range logs {
		fmt.Printf("\n==> %s (last 25 lines) <==\n%s\n", l, tail(l, 25))
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if out, err := exec.Command("cp", "-r", c.path("logs"), dir).CombinedOutput(); err != nil {
			return fmt.Errorf("copying the logs to %s: %v: %s", dir, err, out)
		}
		fmt.Printf("\nlogs copied to %s/logs\n", dir)
	}
	return nil
}
