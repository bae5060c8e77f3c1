# workloadset-controller: its envtest suite alone, and the status-report fuzzer.
.PHONY: test-workloadset fuzz-statusreport
test-workloadset: kube-bins ## workloadset-controller unit + envtest tests (incl. non-blocking orchestration).
	go test $(GO_TEST_FLAGS) -timeout $(GO_TEST_TIMEOUT) ./controllers/workloadset/... ./apis/statusreport/...

FUZZTIME ?= 30s
fuzz-statusreport: ## Fuzz the status report parser for FUZZTIME (default 30s).
	go test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./apis/statusreport/

.PHONY: bench-chain
bench-chain: kube-bins ## Benchmark the controller chain: N standalone Redis Applications to Running, against the floor (PLINTH_BENCH_APPS=100,1000).
	go test -run '^$$' -bench BenchmarkStandaloneRedisApplications -benchtime 1x -timeout 60m ./test/bench/
