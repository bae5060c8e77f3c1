// Package testenv starts a real kube-apiserver and etcd (envtest) with the
// Plinth CRDs installed, for integration tests.
//
// The binaries are built from the Go module proxy by hack/build-kube.sh
// (pinned, cached by version) and linked into bin/k8s; "make test" builds them
// first. One environment per test package: start it in TestMain.
package testenv
