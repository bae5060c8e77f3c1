# Plugins: lint the shipped plugin folders, keep their kustomizations
# current, and fuzz the plugin parser for a bounded number of executions
# (make test-plugins).

# Fuzzing is bounded by a count of executions ("Nx"), not a duration: with a
# duration Go's fuzz coordinator cancels executions still running at the
# deadline and fails with "context deadline exceeded" on a loaded machine
# (go.dev/issue/75804); a count only makes a slow machine slower. A duration
# (PLUGIN_FUZZTIME=1m) still works for a longer run by hand.
PLUGIN_FUZZTIME ?= 200x
PLUGIN_FUZZTIME_READ ?= 5000x

.PHONY: plinth-plugin
plinth-plugin: ## Build the plugin tool into bin/plinth-plugin.
	go build -o bin/plinth-plugin ./cmd/plinth-plugin

.PHONY: plugins-lint
plugins-lint: plinth-plugin ## Lint every plugin version under plugins/.
	bin/plinth-plugin lint plugins

.PHONY: plugins-generate
plugins-generate: plinth-plugin ## Rewrite each plugin version's kustomization.yaml.
	bin/plinth-plugin kustomization plugins

.PHONY: plugins-verify
plugins-verify: plinth-plugin ## Fail when a plugin version's kustomization.yaml is stale.
	bin/plinth-plugin kustomization --check plugins

.PHONY: plugins-fuzz
plugins-fuzz: ## Fuzz the plugin parser: PLUGIN_FUZZTIME (FuzzBuild) and PLUGIN_FUZZTIME_READ (FuzzReadConfigMaps) executions.
	cd pluginregistry && go test -run '^$$' -fuzz '^FuzzBuild$$' -fuzztime $(PLUGIN_FUZZTIME) -parallel 2 -timeout $(GO_TEST_TIMEOUT) .
	cd pluginregistry && go test -run '^$$' -fuzz '^FuzzReadConfigMaps$$' -fuzztime $(PLUGIN_FUZZTIME_READ) -parallel 2 -timeout $(GO_TEST_TIMEOUT) .

.PHONY: test-plugins
test-plugins: plugins-lint plugins-verify plugins-fuzz ## Plugin CI tier: lint, generated files, bounded fuzzing.

TEST_TIERS += test-plugins
