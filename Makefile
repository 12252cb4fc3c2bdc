# gitops-agent — developer entry points. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
OPERATOR := target/debug/gitops-agent-operator

.PHONY: help build test lint fmt crds demo bench bench-apiserver

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

crds: build ## Regenerate crds/ from the API types
	$(OPERATOR) crd > crds/gitopsagents.agents.gitops.dev.yaml

demo: build ## Embedded cluster with Flux fixtures and the example GitOpsAgent; prints what the operator renders (Ctrl-C stops)
	@echo "== what the operator creates for examples/gitopsagent.yaml:"
	$(OPERATOR) render -f examples/gitopsagent.yaml
	@echo "== starting the embedded API server with the Flux fixtures and the example agent"
	target/debug/fake-apiserver --crds crds --fixtures examples/fixtures --apply examples/gitopsagent.yaml \
		--kubeconfig target/demo/kubeconfig

bench: bench-apiserver ## Every benchmark (prints figures)

bench-apiserver: ## Embedded API server: list 10,000 objects, watch events/s (release build)
	$(CARGO) run --release --locked -p fake-apiserver --bin fake-apiserver-bench
