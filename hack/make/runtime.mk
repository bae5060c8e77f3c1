# The in-pod runtime: plinth-procmgr, plinth-status-agent, plinth-ops-agent
# (docs/runtime.md). Their tests run in test-unit (go test ./... of the root
# module): real redis-server and PostgreSQL 15 from hack/install-deps.sh, and
# envtest binaries from make kube-bins.

RUNTIME_PACKAGES := ./procmgr/... ./agents/... ./runtimeconfig/... ./internal/mtls/... ./internal/bincopy/... ./internal/middlewaretest/... ./internal/cmdrun/... ./apis/statusreport/...

##@ Runtime

.PHONY: build-runtime
build-runtime: ## Build the static in-pod binaries into bin/ (they run in any stock image).
	CGO_ENABLED=0 go build -trimpath -o bin/plinth-procmgr ./procmgr
	CGO_ENABLED=0 go build -trimpath -o bin/plinth-status-agent ./agents/status
	CGO_ENABLED=0 go build -trimpath -o bin/plinth-ops-agent ./agents/ops

.PHONY: test-runtime
test-runtime: ## Run only the in-pod runtime's tests (needs hack/install-deps.sh and make kube-bins).
	go test $(GO_TEST_FLAGS) -timeout $(GO_TEST_TIMEOUT) $(RUNTIME_PACKAGES)

.PHONY: bench-runtime
bench-runtime: ## Benchmark a procmgr restart (Restart to PONG) against a fresh redis-server start.
	go test -run '^$$' -bench BenchmarkRedisRestart -benchtime 20x ./procmgr/internal/supervisor
