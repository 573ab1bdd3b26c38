# Two commands on a fresh machine with Python 3.11+: `make dev` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test bench install clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "podclips needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(STAMP)

## The whole stack locally: MongoDB-protocol server, local object store, demo episodes,
## Dagster UI on :3000 and the sidecar API on :8000. Ctrl-C stops it; data stays in .podclips/.
dev: $(STAMP)
	$(BIN)/podclips dev

## Every test, against real servers (SecantusDB, moto over HTTP), real FFmpeg and, for the
## share page, Debian's Chromium (installed here when missing; required in CI).
test: $(STAMP)
	bash scripts/ensure_chromium.sh || test -z "$$CI"
	$(BIN)/python -m pytest

## Benchmarks (not tests): each prints its figures and a ratio against a baseline
## measured in the same run, and a JSON line last. About 15 minutes on 2 cores.
BENCHMARKS := clip_latency api_latency on_demand demand_replay audiogram_render cold_start
bench: $(STAMP)
	for b in $(BENCHMARKS); do $(BIN)/python -m benchmarks.$$b || exit 1; done

clean:
	rm -rf $(VENV) .podclips .pytest_cache
