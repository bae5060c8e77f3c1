# workloadset-controller: its envtest suite alone, and the status-report fuzzer.
.PHONY: test-workloadset fuzz-statusreport
test-workloadset: kube-bins ## workloadset-controller unit + envtest tests (incl. non-blocking orchestration).
	go test $(GO_TEST_FLAGS) -timeout $(GO_TEST_TIMEOUT) ./controllers/workloadset/... ./pkg/statusreport/...

FUZZTIME ?= 30s
fuzz-statusreport: ## Fuzz the status report parser for FUZZTIME (default 30s).
	go test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./pkg/statusreport/
