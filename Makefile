# gitops-agent — developer entry points. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
OPERATOR := target/debug/gitops-agent-operator

.PHONY: help build test lint fmt crds demo bench bench-apiserver bench-operator

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## Build every binary (debug)
	$(CARGO) build --workspace --locked

test: ## Run every test (unit, golden, validation, CRD staleness)
	$(CARGO) nextest run --workspace --locked --no-fail-fast

lint: ## rustfmt check and clippy with warnings as errors
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

crds: build ## Regenerate crds/ (and its copy in config/crd/bases/) from the API types
	$(OPERATOR) crd > crds/gitopsagents.agents.gitops.dev.yaml
	cp crds/gitopsagents.agents.gitops.dev.yaml config/crd/bases/

demo: build ## Embedded cluster with Flux fixtures; the operator reconciles the example GitOpsAgent (Ctrl-C stops)
	scripts/demo.sh

bench: bench-apiserver bench-operator ## Every benchmark (prints figures)

bench-apiserver: ## Embedded API server: list 10,000 objects, watch events/s (release build)
	$(CARGO) run --release --locked -p fake-apiserver --bin fake-apiserver-bench

bench-operator: ## Operator: 100 and 1,000 GitOpsAgents to Ready, requests per agent, steady-state writes, RSS
	$(CARGO) bench --locked -p gitops-agent-controller --bench operator
