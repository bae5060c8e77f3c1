# The local Kubernetes cluster (hack/local-cluster, docs/local-cluster.md):
# cluster-up/down, the e2e test tier and the sandbox.

LOCAL_CLUSTER := bin/local-cluster
CLUSTER_KUBE_BINS := kube-apiserver etcd kubectl kube-controller-manager kube-scheduler kubelet kube-proxy coredns
E2E_TIMEOUT ?= 30m
# Extra flags for the e2e test binary, e.g. E2E_FLAGS='-test.run Redis'.
E2E_FLAGS ?=
LOCAL_OVERLAY := deploy/kustomize/overlays/local

TEST_TIERS += test-e2e

.PHONY: local-cluster
local-cluster: ## Build the local-cluster command into bin/.
	go build -o $(LOCAL_CLUSTER) ./hack/local-cluster

.PHONY: cluster-deps
cluster-deps: ## Install the node's Debian packages and build the pinned Kubernetes, etcd and CoreDNS binaries.
	hack/install-deps.sh cluster
	hack/build-kube.sh $(CLUSTER_KUBE_BINS)

.PHONY: cluster-images
cluster-images: local-cluster ## Build every local image (pause, Redis and PostgreSQL from Debian, Plinth) into the cache.
	$(LOCAL_CLUSTER) images build

.PHONY: cluster-up
cluster-up: cluster-deps local-cluster ## Start the local cluster (idempotent).
	$(LOCAL_CLUSTER) images build pause
	$(LOCAL_CLUSTER) up

.PHONY: cluster-down
cluster-down: local-cluster ## Stop the local cluster and remove everything it made (idempotent).
	$(LOCAL_CLUSTER) down

.PHONY: cluster-status
cluster-status: local-cluster ## Show the local cluster's processes and node.
	$(LOCAL_CLUSTER) status

# Loads the images into the running cluster and applies the local overlay the
# way users deploy Plinth, then waits for the controllers.
.PHONY: cluster-deploy
cluster-deploy: local-cluster
	$(LOCAL_CLUSTER) images load
	existing=$$($(LOCAL_CLUSTER) exec -- kubectl -n plinth-system get deployment -l app.kubernetes.io/part-of=plinth -o name 2>/dev/null || true); \
	$(LOCAL_CLUSTER) exec -- kubectl apply --server-side --force-conflicts --field-manager=plinth-local -k $(LOCAL_OVERLAY); \
	if [ -n "$$existing" ]; then \
		echo "cluster-deploy: restarting the controllers onto the freshly loaded Plinth image"; \
		$(LOCAL_CLUSTER) exec -- kubectl -n plinth-system rollout restart deployment -l app.kubernetes.io/part-of=plinth; \
	fi
	@# rollout status (not wait --for=Available): after a restart the old pods keep Available true.
	$(LOCAL_CLUSTER) exec -- kubectl -n plinth-system rollout status --timeout=180s deployment -l app.kubernetes.io/part-of=plinth

.PHONY: test-e2e
test-e2e: cluster-deps local-cluster ## End-to-end tests on a fresh local cluster, torn down even when they fail.
	go vet -tags e2e ./test/e2e/
	go test -c -tags e2e -o bin/e2e.test ./test/e2e
	$(LOCAL_CLUSTER) images build pause
	@# On failure the cluster's logs are dumped first and the failing tests
	@# are repeated last, so the end of the output says what failed.
	mkdir -p bin/e2e-logs; rm -f bin/e2e-logs/e2e.out; \
	trap 'rc=$$?; if [ $$rc != 0 ]; then $(LOCAL_CLUSTER) diagnose bin/e2e-logs || true; fi; $(LOCAL_CLUSTER) down || rc=1; \
		if [ $$rc != 0 ] && [ -f bin/e2e-logs/e2e.out ]; then echo "==> e2e failures (whole output: bin/e2e-logs/e2e.out)"; \
		grep -E -B1 -A12 "^(--- FAIL|panic:)" bin/e2e-logs/e2e.out | cut -c1-400 || true; fi; exit $$rc' EXIT INT TERM; \
	$(LOCAL_CLUSTER) up; \
	$(MAKE) --no-print-directory cluster-deploy; \
	$(LOCAL_CLUSTER) exec -- bin/e2e.test -test.v -test.count=1 -test.timeout $(E2E_TIMEOUT) $(E2E_FLAGS) 2>&1 | tee bin/e2e-logs/e2e.out

.PHONY: sandbox-up
sandbox-up: cluster-up
	$(MAKE) --no-print-directory cluster-deploy
	@# The plugins come with the local overlay; the sample is examples/redis-standalone.yaml.
	$(LOCAL_CLUSTER) exec -- kubectl apply --server-side --force-conflicts --field-manager=plinth-local -f examples/redis-standalone.yaml
	$(LOCAL_CLUSTER) exec -- kubectl -n default wait --for=jsonpath='{.status.phase}'=Running applications.plinth.io/cache --timeout=300s
	@kc=$$($(LOCAL_CLUSTER) kubeconfig); \
	ip=$$($(LOCAL_CLUSTER) exec -- kubectl -n default get service cache-redis -o jsonpath='{.spec.clusterIP}'); \
	echo; echo "The Plinth sandbox is running, with the Redis Application default/cache. Try:"; \
	echo "  export KUBECONFIG=$$kc PATH=$(CURDIR)/bin/k8s:\$$PATH"; \
	echo "  kubectl get plinth -n default"; \
	echo "  kubectl -n plinth-system get deployments,pods"; \
	echo "  kubectl -n default get application.plinth.io cache -o jsonpath='{.status.endpoints}'"; \
	echo "Connect to Redis (Service IPs are reachable inside the cluster's network namespace):"; \
	echo "  REDISCLI_AUTH=\"\$$(kubectl -n default get secret cache-credentials -o jsonpath='{.data.password}' | base64 -d)\" $(LOCAL_CLUSTER) exec -- redis-cli -h $$ip --user default PING"; \
	echo "Stop it with: make sandbox-down"

.PHONY: sandbox-down
sandbox-down: cluster-down ## Stop the sandbox.
