# gitops-agent — developer entry points. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
OPERATOR := target/debug/gitops-agent-operator

.PHONY: help build test lint fmt crds demo

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

demo: build ## Render the example GitOpsAgent into the objects the operator creates (no cluster needed)
	$(OPERATOR) render -f examples/gitopsagent.yaml
