# paritybench: `make bench` (the main job) and `make test` set everything up from
# nothing but Python 3 and make: they install uv into .tools/ when it is not on
# PATH, create .venv from uv.lock (Python 3.13, fetched by uv if needed), then run.

PYTHON   ?= python3
UV_VERSION ?= 0.13.9
EXTRAS   ?= --extra cpu
UV       := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
RUN      := $(UV) run --locked --no-sync
ARGS     ?=

.PHONY: setup bench bench-timing bench-cpu bench-gpu test lint compare report clean

setup: .venv/.paritybench-synced

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

.venv/.paritybench-synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked $(EXTRAS)
	@touch $@

## The main job: the seed experiment, every arm, one artifact under results/runs/.
bench: setup
	$(RUN) paritybench run $(ARGS)

## The test suite (what CI runs). Set PARITYBENCH_REQUIRE_DOCKER=1 to fail instead of
## skipping the container tests when Docker is missing.
test: setup
	$(RUN) pytest $(ARGS)

lint: setup
	$(RUN) ruff check src tests bench

## Timing (pytest-benchmark, issue 6): the JAX and NumPy suites, then one process per
## Keras backend; one file results/timing/<machine>-<time>.json, then the report.
## ARGS="--quick" for a 3-round smoke run; ARGS="--backends tensorflow,jax" to choose.
bench-timing: setup
	$(RUN) python bench/run_timing.py $(ARGS)

## The seed preset on this machine, compared with the committed CPU baseline
## (exit 1 if any run is divergent; the artifact stays in results/runs/).
BASELINE ?= results/baselines/seed-cpu.json
compare: setup
	out=results/runs/compare-$$(date -u +%Y%m%dT%H%M%SZ).json; \
	$(RUN) paritybench run --out $$out $(ARGS) && $(RUN) paritybench compare $(BASELINE) $$out

clean:
	rm -rf .venv .tools .pytest_cache .benchmarks
