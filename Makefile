# Every target creates the virtualenv it needs from pyproject.toml, so a fresh clone with
# only python3 works: `make demo` runs the main job, `make test` runs the whole suite.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test test-parallel unit test-integration lint format typecheck bench bench-cost bench-peers bench-compare bench-fairness all clean browser lock

$(STAMP): pyproject.toml requirements.lock clients/python/pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet -e ".[dev,demo,tracing,agents,mcp]"
	$(PY) -m pip install --quiet -e clients/python
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/runq demo

## the README's test command: lint, types, then every test tier (integration included).
## Two pytest sessions: the unit tier spread over two processes (pytest-xdist; it is
## CPU-bound), then the integration and entrypoints tiers over two more, a whole file at a
## time (`--dist loadfile`: a file's tests keep their order and share its fixtures), each
## process with its own fleet, the files in collection order (`--no-loadscope-reorder`:
## xdist otherwise deals the files with the most tests first, so `test_worker_loss.py`,
## which kills the fleet and Redis on purpose, would no longer come last).
## The sessions stay apart because a fleet puts its settings in its process's environment.
UNIT_TIER := not integration and not entrypoints
test: lint typecheck browser unit
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder -m "not ($(UNIT_TIER))"

## Opt-in, not CI's: three processes (three fleets) for the second session. The load of
## three fleets on two cores still surfaces timing races.
test-parallel: lint typecheck browser unit
	$(PY) -m pytest -n 3 --dist loadfile --no-loadscope-reorder -m "not ($(UNIT_TIER))"

## Debian's headless Chromium for the dashboard and Flower tests (root installs it with apt)
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
		|| echo "chromium not installed: the browser tests will skip"; }

unit: $(STAMP)
	$(PY) -m pytest -n 2 -m "$(UNIT_TIER)"

test-integration: $(STAMP) browser
	$(PY) -m pytest -m integration

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

## requirements.lock: the exact set the image and CI install (producers take the ranges)
lock:
	rm -rf .lock-venv && python3 -m venv .lock-venv
	.lock-venv/bin/pip install --quiet ".[postgres]"
	{ echo "# runq's tested dependency set for the image (make lock regenerates it)."; \
	  .lock-venv/bin/pip freeze --exclude-editable | grep -v "^runq" ; } > requirements.lock
	rm -rf .lock-venv

bench: $(STAMP)
	$(PY) -m bench.limiter
	$(PY) -m bench.cache
	$(PY) -m bench.spend

## the same 1,000 runs through each lane: $ per 1,000 runs, wall, cache-hit share
bench-cost: $(STAMP)
	$(PY) -m bench.cost

## runq against naive Celery and the OpenAI Agents SDK, then target 4 (in flight) and 5 (ceiling)
bench-peers: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) -m bench.peers
	$(PY) -m bench.peers --rpm 300 --only agents-asyncio,runq,runq-sync --tag rpm300
	$(PY) -m bench.ceiling
	$(PY) -m bench.inflight

## runq as checked out (uncommitted changes included) against BEFORE (a commit, default HEAD)
## and the asyncio Agents SDK: three interleaved rounds, medians and within-round ratios
BEFORE ?= HEAD
RUNS ?= 200
bench-compare: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	@before=$$(mktemp -d)/before && git worktree add --quiet --detach "$$before" $(BEFORE) && \
	  { $(PY) -m bench.peers --only agents-asyncio,runq --runs $(RUNS) --repeat 3 --before "$$before" --tag compare; \
	    status=$$?; git worktree remove --force "$$before"; exit $$status; }

## Fair shares: a small tenant's p50 latency alone, under a flood with fair shares off and on
bench-fairness: $(STAMP)
	$(PY) -m bench.fairness

all: test

clean:
	rm -rf $(VENV) .runq .mypy_cache .ruff_cache .pytest_cache .import_linter_cache .grimp_cache
