// Command importcheck fails when a package depends on one that an import
// restriction forbids it (hack/import-restrictions.yaml; `make lint` runs
// it). It reads the import graph from `go list -deps -json`, so it sees what
// the go command builds: non-test files, for this platform.
//
//	go run ./hack/importcheck [-rules FILE] [-C DIR] [PATTERN...]
//
// The patterns (default ./...) are listed from DIR (default .); with go.work,
// the other modules' patterns (github.com/plinth-io/plinth/apis/...) can be
// given alongside. Each violation is printed on one line naming the importing
// package, the forbidden package, the rule (and the package it applies to),
// and the import chain that leads there.
package main
