package pluginregistry_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plinth-io/plinth/pluginregistry"
	"github.com/plinth-io/plinth/pluginregistry/plugincli"
)

// The operations contract: lint refuses templates the operation-controller
// could not run, naming what is wrong and what is allowed. Each case adds
// one template to the valid mini plugin (testdata/lint/valid-mini), whose
// server component has the switchover actions of no topology unless the
// case gives it some.
func TestOperationsContractLint(t *testing.T) {
	cases := []struct {
		name       string
		template   string
		switchover bool // give the single topology's server a switchover action
		want       []string
	}{
		{"wait for a condition nothing sets", `
  - name: Stop
    steps:
      - {name: wait, type: wait, timeout: 1m, wait: {kind: Application, name: "{{ .Application.Name }}", condition: Stopped}}`,
			false, []string{"template Stop cannot run", `the platform never sets condition "Stopped" on Application objects: expected one of Ready, Valid, Progressing (or wait for a phase: Creating, Running, Updating, Stopping, Stopped, Failed, Abnormal)`}},
		{"wait for a phase the kind does not have", `
  - name: Stop
    steps:
      - {name: wait, type: wait, timeout: 1m, wait: {kind: Backup, name: x, phase: Succeeded}}`,
			false, []string{`Backup has no phase "Succeeded": expected one of Pending, Running, Completed, Failed`}},
		{"wait on a kind nothing reports on", `
  - name: Stop
    steps:
      - {name: wait, type: wait, timeout: 1m, wait: {kind: Operation, name: x, condition: Succeeded}}`,
			false, []string{`kind "Operation" cannot be waited for (condition "Succeeded", phase ""): expected one of Application, Backup, Component, WorkloadSet`}},
		{"wait for both a condition and a phase", `
  - name: Stop
    steps:
      - {name: wait, type: wait, timeout: 1m, wait: {kind: Application, name: x, condition: Ready, phase: Running}}`,
			false, []string{`a wait step waits for a condition or a phase, not both`}},
		{"patch naming a field the API type lacks", `
  - name: Grow
    parameters:
      - {name: size, type: quantity, required: true}
    steps:
      - name: grow
        type: patch
        timeout: 30s
        patch:
          kind: Application
          name: "{{ .Application.Name }}"
          merge: |
            spec:
              components:
                - name: server
                  volume: {size: {{ quote .Args.size }}}`,
			false, []string{"template Grow cannot run", `plinth.io/v1alpha1 Application has no such field (rendered with sample arguments): unknown field "spec.components[0].volume"`}},
		{"resource naming a field the API type lacks", `
  - name: Backup
    steps:
      - name: create
        type: resource
        timeout: 30s
        resource:
          action: apply
          manifest: |
            apiVersion: plinth.io/v1alpha1
            kind: Backup
            metadata: {name: x, namespace: {{ quote .Application.Namespace }}}
            spec: {applicationRef: {name: {{ quote .Application.Name }}}, storageRef: {name: x}}`,
			false, []string{`plinth.io/v1alpha1 Backup has no such field (rendered with sample arguments): unknown field "spec.storageRef"`}},
		{"grpc action the component does not serve", `
  - name: Form
    steps:
      - {name: form, type: grpc, timeout: 1m, grpc: {target: ops-agent, method: Execute, action: form, args: {members: a, shards: "1", replicas: "1"}, selector: {component: server}, policy: all}}`,
			false, []string{`action "form" is not among the actions component server serves (hello): its pods' ops agent would refuse it`}},
		{"grpc action not declared", `
  - name: Form
    steps:
      - {name: form, type: grpc, timeout: 1m, grpc: {target: ops-agent, method: Execute, action: reform, selector: {component: server}, policy: all}}`,
			false, []string{`action "reform" is not declared in this ConfigMap's actions: expected one of hello, form`}},
		{"exclude naming a later step", `
  - name: Bounce
    steps:
      - {name: first, type: grpc, timeout: 1m, grpc: {target: procmgr, method: Restart, selector: {component: server, exclude: [second]}, policy: one-at-a-time}}
      - {name: second, type: grpc, timeout: 1m, grpc: {target: procmgr, method: Restart, selector: {component: server}, policy: one-at-a-time}}`,
			false, []string{`step "second" comes at or after this step in Bounce: exclude names earlier steps`}},
		{"exclude naming no step", `
  - name: Bounce
    steps:
      - {name: first, type: grpc, timeout: 1m, grpc: {target: procmgr, method: Restart, selector: {component: server, role: replica}, policy: one-at-a-time}}
      - {name: second, type: grpc, timeout: 1m, grpc: {target: procmgr, method: Restart, selector: {component: server, exclude: [frist]}, policy: one-at-a-time}}`,
			false, []string{`Bounce has no step "frist": exclude names earlier steps of the same template (first)`}},
		{"exclude naming a step that calls no pod", `
  - name: Bounce
    steps:
      - {name: wait, type: wait, timeout: 1m, wait: {kind: Application, name: x, condition: Ready}}
      - {name: second, type: grpc, timeout: 1m, grpc: {target: procmgr, method: Restart, selector: {component: server, exclude: [wait]}, policy: one-at-a-time}}`,
			false, []string{`step "wait" is a wait step, which calls no pod`}},
		{"switchover on a component without switchover actions", `
  - name: Failover
    parameters:
      - {name: candidate, type: string, default: ""}
    steps:
      - {name: switchover, type: switchover, timeout: 5m, switchover: {component: server, candidate: "{{ .Args.candidate }}"}}`,
			false, []string{"template Failover cannot run", "component server declares no switchover actions in any topology"}},
		{"switchover on an unknown component", `
  - name: Failover
    steps:
      - {name: switchover, type: switchover, timeout: 5m, switchover: {component: sever}}`,
			true, []string{`unknown component "sever": expected one of server`}},
		{"switchover step without its block", `
  - name: Failover
    steps:
      - {name: switchover, type: switchover, timeout: 5m}`,
			true, []string{"a switchover step needs a switchover block"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := miniWith(t, tc.template, tc.switchover)
			var out bytes.Buffer
			err := plugincli.Lint(&out, []string{dir})
			if err == nil {
				t.Fatalf("lint passed, want it to fail:\n%s", out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("lint output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}

	// The valid forms of the same steps pass, and render for the controller.
	dir := miniWith(t, `
  - name: Failover
    parameters:
      - {name: candidate, type: string, default: ""}
    steps:
      - {name: replicas, type: grpc, timeout: 1m, grpc: {target: procmgr, method: Restart, selector: {component: server, role: replica}, policy: one-at-a-time}}
      - {name: switchover, type: switchover, timeout: 5m, switchover: {component: server, candidate: "{{ .Args.candidate }}"}}
      - {name: rest, type: grpc, timeout: 1m, grpc: {target: procmgr, method: Restart, selector: {component: server, exclude: [replicas]}, policy: one-at-a-time}}
      - {name: stopped, type: wait, timeout: 1m, wait: {kind: Application, name: "{{ .Application.Name }}", phase: Stopped}}
      - {name: ready, type: wait, timeout: 1m, wait: {kind: Component, name: x, condition: Ready, status: "True", reason: Available}}`, true)
	var out bytes.Buffer
	if err := plugincli.Lint(&out, []string{dir}); err != nil {
		t.Fatalf("lint: %v\n%s", err, out.String())
	}
	pv := load(t, filepath.Join(dir, "mini"))
	op, err := pluginregistry.RenderOperation(pv, "Failover", map[string]string{"candidate": "x-server-0-1"}, sampleContext())
	if err != nil {
		t.Fatal(err)
	}
	if s := op.Steps[1].Switchover; s == nil || s.Candidate != "x-server-0-1" || s.Component != "server" {
		t.Errorf("switchover step rendered as %+v", op.Steps[1])
	}
	if ex := op.Steps[2].GRPC.Selector.Exclude; len(ex) != 1 || ex[0] != "replicas" {
		t.Errorf("exclude rendered as %v", ex)
	}
}

// miniWith copies the valid mini plugin with extra operation templates and,
// when switchover is set, a switchover action for its server component.
func miniWith(t *testing.T, templates string, switchover bool) string {
	t.Helper()
	dir := t.TempDir()
	src := "testdata/lint/valid-bootstrap/mini"
	if err := os.Mkdir(filepath.Join(dir, "mini"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"manifest.yaml", "components.yaml", "podtemplates.yaml", "params.yaml", "operations.yaml"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		switch f {
		case "operations.yaml":
			s = strings.Replace(s, "templates:\n", "templates:"+templates+"\n", 1)
		case "components.yaml":
			if switchover {
				s = strings.Replace(s, "        bootstrap: {action: form}\n", "        bootstrap: {action: form}\n        switchover: [{action: hello-primary, target: primary}]\n", 1)
				s = strings.Replace(s, "actions: [hello, form]", "actions: [hello, form, hello-primary]", 1)
			} else {
				s = strings.Replace(s, "actions: [hello, form]", "actions: [hello]", 1)
				s = strings.Replace(s, "        bootstrap: {action: form}\n", "", 1)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "mini", f), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if switchover {
		f := filepath.Join(dir, "mini", "operations.yaml")
		b, _ := os.ReadFile(f)
		s := string(b) + "  - name: hello-primary\n    command: [echo, switched]\n    timeout: 5s\n"
		if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
