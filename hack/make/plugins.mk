# Plugins: lint the shipped plugin folders, keep their kustomizations
# current, and fuzz the plugin parser for a bounded time (make test-plugins).

PLUGIN_FUZZTIME ?= 20s

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
plugins-fuzz: ## Fuzz the plugin parser for PLUGIN_FUZZTIME per target.
	cd pluginregistry && go test -run '^$$' -fuzz '^FuzzBuild$$' -fuzztime $(PLUGIN_FUZZTIME) -parallel 2 .
	cd pluginregistry && go test -run '^$$' -fuzz '^FuzzReadConfigMaps$$' -fuzztime $(PLUGIN_FUZZTIME) -parallel 2 .

.PHONY: test-plugins
test-plugins: plugins-lint plugins-verify plugins-fuzz ## Plugin CI tier: lint, generated files, bounded fuzzing.

TEST_TIERS += test-plugins
