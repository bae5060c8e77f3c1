// Package testenv starts a real kube-apiserver and etcd (envtest) with the
// Plinth CRDs installed, for integration tests.
//
// The binaries are built from the Go module proxy by hack/build-kube.sh
// (pinned, cached by version) and linked into bin/k8s; "make test" builds them
// first. One environment per test package: start it in TestMain.
//
// StartManager (one test) and Env.NewManager (one package, from TestMain)
// are the one way a controller's envtests run it: a manager built as the
// binary builds it (ctrlmanager.Options.New), with metrics and health
// endpoints off and no leader election, on which the test runs the
// controller's Setup.
package testenv
