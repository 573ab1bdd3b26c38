# Two commands on a fresh machine with Python 3.11+: `make dev` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint bench install clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "podclips needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,local]'
	@touch $@

install: $(STAMP)

## The whole stack locally: MongoDB-protocol server, local object store, demo episodes,
## Dagster UI on :3000 and the sidecar API on :8000. Ctrl-C stops it; data stays in .podclips/.
dev: $(STAMP)
	$(BIN)/podclips dev

## Every test, against real servers (SecantusDB, moto over HTTP), real FFmpeg and, for the
## share page, Debian's Chromium, and for Dagster's storage, Debian's PostgreSQL
## (both installed here when missing; required in CI). Lint first: it takes a second.
test: lint
	bash scripts/ensure_chromium.sh || test -z "$$CI"
	bash scripts/ensure_postgres.sh || test -z "$$CI"
	$(BIN)/python -m pytest

## ruff (pyproject.toml [tool.ruff]): pyflakes, pycodestyle, import order, bugbear, pyupgrade.
lint: $(STAMP)
	$(BIN)/ruff check .

## Benchmarks (not tests): each prints its figures and a ratio against a baseline
## measured in the same run, and a JSON line last. About an hour on 2 cores (scale_out: 30 min).
BENCHMARKS := clip_latency api_latency cold_start on_demand backfill_throughput demand_replay \
	audiogram_render load scale_out
bench: $(STAMP)
	for b in $(BENCHMARKS); do $(BIN)/python -m benchmarks.$$b || exit 1; done

clean:
	rm -rf $(VENV) .podclips .pytest_cache
