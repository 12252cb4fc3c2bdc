# gitops-agent — developer entry points. `make help` lists them.
SHELL := /bin/bash
E2E_MODE ?= pods
CARGO ?= cargo
OPERATOR := target/debug/gitops-agent-operator

.PHONY: help build test protocol-test conformance chart-test examples-test image image-test e2e e2e-embedded lint fmt crds demo tools bench bench-build bench-apiserver bench-operator bench-server bench-versus bench-fleet bench-resources fuzz fuzz-smoke soak

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

build: ## Build every binary (debug)
	$(CARGO) build --workspace --locked

test: ## Run every test: Rust (unit, golden, integration, properties, faults), MCP and A2A SDK clients, MCP conformance suite, Helm charts, Flux examples, the e2e suite on the embedded API server, the images built and run
	$(CARGO) nextest run --workspace --locked --no-fail-fast
	$(MAKE) protocol-test conformance chart-test examples-test e2e-embedded image-test

protocol-test: build ## The official MCP Python SDK as a client, over Streamable HTTP and stdio
	scripts/protocol-tests.sh

chart-test: build ## Helm charts with real Helm (helm-python-sdk): lint --strict, every mode, security checklist, schema, kmcp API, goldens, agreement with `gitops-agent-operator render`
	scripts/chart-tests.sh

conformance: build ## The official MCP conformance suite (2026-07-28, 2025-11-25, 2025-06-18); prints pass counts
	scripts/mcp-conformance.sh

examples-test: build ## Flux layout in examples/flux: kustomize builds, Flux API, HelmRelease values vs the charts, applied to the embedded API server, operator turns every agent Ready
	scripts/examples-tests.sh

image: ## Both images from this machine's release build, FROM scratch, with buildah/podman/docker: OCI archives, SBOMs, digests in target/images/ (SOURCE=dockerfile: the Dockerfile instead)
	scripts/image.sh

image-test: build ## Build the images and run them: contents, SBOM, each entrypoint hardened against the embedded API server, podman kube play of the rendered Deployment
	scripts/image-tests.sh

# E2E_MODE=local runs the operator and the agent here, so it needs the debug build.
e2e: $(if $(filter local,$(E2E_MODE)),build) ## End-to-end suite against the cluster KUBECONFIG names (kind in daily runs; E2E_MODE=local: any API server, no nodes); skips with a message when none is reachable
	E2E_MODE=$(E2E_MODE) tests/e2e/run.sh

e2e-embedded: build ## The e2e suite in local mode against the embedded API server playing a bare kube-apiserver (RBAC on, no Deployment controller), so it cannot rot
	scripts/e2e-embedded.sh

lint: ## rustfmt check and clippy with warnings as errors
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

crds: build ## Regenerate crds/ (and its copies in config/crd/bases/ and the operator chart) from the API types
	$(OPERATOR) crd > crds/gitopsagents.agents.gitops.dev.yaml
	cp crds/gitopsagents.agents.gitops.dev.yaml config/crd/bases/
	cp crds/gitopsagents.agents.gitops.dev.yaml chart/gitops-agent-operator/crds/

demo: build ## Embedded cluster with Flux fixtures; the operator reconciles the example agent; the agent answers MCP calls (Ctrl-C stops)
	scripts/demo.sh

tools: build ## Print the agent's tool catalogue (names, titles, input schemas) as JSON
	target/debug/gitops-agent tools

bench: bench-apiserver bench-operator bench-versus bench-fleet bench-resources ## The benchmarks for the README's tables: API server, operator, ours vs the peer, fleet, MCP resources (bench-server runs apart: bench-versus measures our server too)

# The two binaries as they ship (scripts/release-build.sh: the release profile, with cargo-auditable),
# then the benchmarks in the bench profile (crates/bench; cargo's default release settings, since they
# do not ship). The benchmarks start the release binaries next to them in target/release/. The
# `cargo bench` runs below use the same selection (--workspace) as this build, so they compile nothing.
bench-build:
	scripts/release-build.sh
	$(CARGO) build --locked --profile bench --workspace --bench '*'

# Long runs, not in CI (which runs scripts/fuzz.sh for a short smoke of each target).
fuzz: ## cargo-fuzz (libFuzzer, stable toolchain): each target's corpus, then FUZZ_SECONDS (600) of fuzzing, two targets at a time; table in bench/results/
	FUZZ_SECONDS=$${FUZZ_SECONDS:-600} FUZZ_JOBS=$${FUZZ_JOBS:-2} FUZZ_RESULTS=$${FUZZ_RESULTS:-bench/results/$$(date +%F)-fuzz.md} scripts/fuzz.sh

fuzz-smoke: ## What CI runs: every fuzz target's corpus as regression inputs (a failure fails), then 10 s of fuzzing each, new crashes reported (dev-profile build)
	FUZZ_BUILD=dev FUZZ_JOBS=2 FUZZ_NEW_CRASH_FAILS=0 scripts/fuzz.sh

soak: ## Release agent (10,000 churning Flux objects, 10 clients, a fault every 3 min) and operator (500 agents, leader failover) for SOAK_MINUTES (30) each: RSS, FDs, tasks, errors; fails on growth or a wrong answer; tables and plots in bench/results/
	scripts/release-build.sh
	$(CARGO) build --locked --profile bench --workspace --bench soak
	scripts/soak.sh

bench-apiserver: bench-build ## Embedded API server: list 10,000 objects, watch events/s (release build)
	$(CARGO) bench --locked --workspace --bench apiserver

bench-operator: bench-build ## Operator: 100 and 1,000 GitOpsAgents to Ready, requests per agent, steady-state writes, RSS
	$(CARGO) bench --locked --workspace --bench operator

bench-server: bench-build ## Agent server alone: tool calls/s and p50/p90/p99 over 1,000 and 10,000 Kustomizations at concurrency 1/8/64, RSS, startup
	$(CARGO) bench --locked --workspace --bench server

bench-fleet: bench-build ## One agent for 1 + 20 clusters × 500 Flux objects against the same agent for 1: ready time, RSS per cluster, fleet_health_summary latency, one cluster down
	$(CARGO) bench --locked --workspace --bench fleet

bench-resources: bench-build ## MCP resources: 1,000 subscribed Kustomizations under 100 status changes/s (notification latency p50/p99, agent CPU and RSS, against no subscriber), resources/list over 10,000 objects paged (against list_kustomizations pages)
	$(CARGO) bench --locked --workspace --bench resources

bench-versus: bench-build ## Ours vs the peer kubernetes-mcp-server (from npm) on the same API server: 100/1,000/10,000 Kustomizations, concurrency 1/8/64; table, JSON and plot in bench/results/
	scripts/bench-versus.sh
