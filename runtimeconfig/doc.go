// Package runtimeconfig defines the files that configure Plinth's in-pod
// runtime: the process file of plinth-procmgr (Process), the status probe of
// plinth-status-agent (Probe) and the action file of plinth-ops-agent
// (Actions). Plugins render these files (YAML or JSON) into a ConfigMap that
// the pod mounts; the binaries load them with LoadProcess, LoadProbe and
// LoadActions, which reject unknown fields and invalid values with an error
// that names the field.
//
// The schema is documented field by field here and in docs/runtime.md.
package runtimeconfig
