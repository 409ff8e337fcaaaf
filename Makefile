# The README's two commands: `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
VENV ?= .venv
SANDBOX := tests/sandbox/sandbox.sh

.DEFAULT_GOAL := help
.PHONY: help demo test venv ci-tools check-postgres fmt lint lint-workflows test-rust test-sandbox test-conformance sandbox sandbox-stop bench

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{gsub(/\$$\$$/, "$$", $$2); printf "  make %-14s %s\n", $$1, $$2}'

demo: venv ## Start the local AWS sandbox, seed it, and tour opsctl against it
	$(CARGO) build --locked -p opsctl
	bash tests/sandbox/demo.sh

test: venv check-postgres fmt lint lint-workflows test-rust test-sandbox test-conformance ## Every check and test (what CI runs)

venv: ## Install the sandbox's Python packages into ./.venv (once)
	@bash tests/sandbox/bootstrap.sh

check-postgres: ## Fail early, and say how to fix it, when PostgreSQL is not reachable
	@bash scripts/check-postgres.sh

fmt: ## cargo fmt --check
	$(CARGO) fmt --all --check

lint: ## clippy, warnings are errors
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

CI_REQUIREMENTS := ci/requirements.txt
CI_STAMP = $(VENV)/.ci-requirements.sha256

ci-tools: ## Install ci/requirements.txt (actionlint, schemathesis) into ./.venv (again when it changes)
	@test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	@want="$$(sha256sum $(CI_REQUIREMENTS) | cut -d' ' -f1)"; \
	if [ ! -x $(VENV)/bin/actionlint ] || [ ! -x $(VENV)/bin/schemathesis ] || [ "$$(cat $(CI_STAMP) 2>/dev/null)" != "$$want" ]; then \
	  echo "ci-tools: installing $(CI_REQUIREMENTS) into $(VENV)" >&2; \
	  $(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $(CI_REQUIREMENTS) && \
	  echo "$$want" > $(CI_STAMP); \
	fi

lint-workflows: ci-tools ## actionlint over .github/workflows
	$(VENV)/bin/actionlint .github/workflows/*.yml

test-rust: venv ## Rust tests: workflows on fakes, the service on PostgreSQL, the binary on the sandbox
	bash $(SANDBOX) run -- $(CARGO) test --workspace --locked

test-conformance: ci-tools check-postgres ## The users service against its OpenAPI document (schemathesis, real binary, throwaway database)
	VENV=$(VENV) bash service/tests/conformance.sh

test-sandbox: venv ## The sandbox's own tests (it agrees with the aws CLI and ecs-deploy)
	$(VENV)/bin/python -m pytest -q tests/sandbox/tests

sandbox: venv ## Start the local AWS sandbox in the background (then: eval "$$(bash tests/sandbox/sandbox.sh seed)")
	@bash $(SANDBOX) start

sandbox-stop: ## Stop it
	@bash $(SANDBOX) stop

bench: ## Benchmarks: the opsctl binary, opsctl against its peers on the sandbox, and the users service under load
	bash bench/binary.sh
	bash bench/deploy.sh
	bash bench/service.sh
