# One entry point for humans and CI. Every target installs what it needs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Arrow's mimalloc pool was up to 2x slower on this VM for Arrow-heavy work; the system
# allocator is steady. Exported for every command run from here.
export ARROW_DEFAULT_MEMORY_POOL ?= system
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

.PHONY: install demo test lint bench constraints clean ui postgres-server servers

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	# torch first, pinned, so nothing can pull a CUDA build.
	$(BIN)/pip install --quiet -c constraints.txt "torch==2.13.0"
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

## Materialize every asset of the shipped pipelines (full 2013 demo) on embedded defaults.
demo: install
	$(BIN)/etl-assets demo

## Lint, then run the whole test suite.
test: install servers
	$(BIN)/ruff check etl_assets etl_assets_tests benchmarks
	$(BIN)/pytest -n 2 --dist loadgroup

lint: install
	$(BIN)/ruff check etl_assets etl_assets_tests benchmarks
	$(BIN)/ruff format --check etl_assets etl_assets_tests benchmarks

## PostgreSQL 15 server binaries for the Postgres tests (Debian package, installed only if missing;
## the tests start their own throwaway server as an unprivileged user).
PG_BIN ?= /usr/lib/postgresql/15/bin
postgres-server:
	@test -x $(PG_BIN)/initdb || { \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql-15 postgresql-client-15; }

## Every server binary the tests start for real: PostgreSQL 15, Redis (Celery broker) and
## Chromium (browser tests), from Debian, each installed only if missing.
servers: postgres-server
	@command -v redis-server >/dev/null && command -v chromium >/dev/null || { \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server chromium; }

bench: install
	$(BIN)/python benchmarks/run_foundation.py

constraints:
	rm -rf /tmp/etl-assets-lock && $(PYTHON) -m venv /tmp/etl-assets-lock
	/tmp/etl-assets-lock/bin/pip install --quiet "torch==2.13.0" -e ".[dev]"
	{ echo "# Full resolved dependency set, tested together (pip freeze of a clean install)."; \
	  echo "# Regenerate: make constraints"; \
	  /tmp/etl-assets-lock/bin/pip freeze | grep -v -iE "^(etl.assets|-e )"; } > constraints.txt

clean:
	rm -rf $(VENV) data .dagster_home .dagster_home_postgres

## The Dagster UI on the demo's instance and data (http://127.0.0.1:3000).
## INSTANCE=postgres uses instances/postgres/dagster.yaml (set DAGSTER_PG_* first).
INSTANCE ?= sqlite
ui: install
	@if [ "$(INSTANCE)" = "postgres" ]; then home=.dagster_home_postgres; conf=instances/postgres/dagster.yaml; \
	 else home=.dagster_home; conf=dagster.yaml; fi; \
	 mkdir -p $$home && ln -sfn "$$PWD/$$conf" $$home/dagster.yaml && \
	 DAGSTER_HOME="$$PWD/$$home" $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000
