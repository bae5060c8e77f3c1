# Plinth — see README.md. The two commands a newcomer needs: make sandbox, make test.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

MODULES := . apis proto
GO_TEST_FLAGS ?= -count=1
GO_TEST_TIMEOUT ?= 20m
# Test tiers run by "make test" after the unit and envtest tier. Each area adds
# its own in hack/make/<area>.mk (TEST_TIERS += test-<area>).
TEST_TIERS :=
# Revision the gRPC contracts must stay compatible with (buf breaking); empty:
# main, else origin/main (hack/buf-breaking.sh).
BUF_AGAINST ?=

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

##@ Everyday

.PHONY: test
test: deps verify lint test-unit ## Install what is needed and run every test.
	for t in $(TEST_TIERS); do $(MAKE) --no-print-directory $$t; done
	@echo "make test: all tiers passed"

.PHONY: sandbox
sandbox: sandbox-up ## Bring up the local cluster and run Plinth with a sample instance (hack/make/cluster.mk).

##@ Pieces

.PHONY: deps
deps: tools kube-bins ## Install Debian packages, Go tools and pinned Kubernetes binaries.
	hack/install-deps.sh test

.PHONY: tools
tools: ## Build the pinned code generators into bin/ (cached machine-wide).
	hack/tools.sh controller-gen buf protoc-gen-go protoc-gen-go-grpc

.PHONY: kube-bins
kube-bins: ## Build the pinned kube-apiserver, etcd and kubectl for envtest (cached machine-wide).
	hack/build-kube.sh kube-apiserver etcd kubectl

.PHONY: generate
generate: tools ## Regenerate deep-copy code, CRD manifests, each binary's RBAC and gRPC stubs.
	cd apis && GOWORK=off ../bin/controller-gen object:headerFile=../hack/boilerplate.go.txt paths=./...
	cd apis && GOWORK=off ../bin/controller-gen crd:maxDescLen=512 paths=./... output:crd:artifacts:config=../deploy/kustomize/base/crds
	hack/gen-rbac.sh
	rm -rf proto/gen && cd proto && ../bin/buf generate

.PHONY: verify
verify: tools ## Fail when generated files are stale.
	hack/verify-generated.sh

.PHONY: lint
lint: tools ## gofmt, go vet (every module, with and without go.work), import restrictions, buf lint and breaking check.
	@bad=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$bad" ]; then echo "gofmt would change: $$bad" >&2; exit 1; fi
	for m in $(MODULES); do (cd $$m && go vet ./... && GOWORK=off go vet ./...); done
	go run ./hack/importcheck ./... github.com/plinth-io/plinth/apis/... github.com/plinth-io/plinth/proto/...
	cd proto && ../bin/buf lint
	BUF_AGAINST='$(BUF_AGAINST)' hack/buf-breaking.sh

.PHONY: build
build: ## Build every binary into bin/.
	go build -o bin/ ./controllers/...

.PHONY: test-unit
test-unit: ## Unit and envtest integration tests of every module.
	for m in $(MODULES); do (cd $$m && go test $(GO_TEST_FLAGS) -timeout $(GO_TEST_TIMEOUT) ./...); done

TEST_TIERS += test-hack
.PHONY: test-hack
test-hack: ## Tests of the hack/ scripts: the machine-wide cache under concurrent clones.
	hack/lib/cache_test.sh

# Each area's targets (plugins, runtime, local cluster ...).
-include hack/make/*.mk
