# paritybench: `make bench` (the main job) and `make test` set everything up from
# nothing but Python 3 and make: they install uv into .tools/ when it is not on
# PATH, create .venv from uv.lock (Python 3.13, fetched by uv if needed), then run.

PYTHON   ?= python3
UV_VERSION ?= 0.13.9
# Optional extras (pyproject.toml): cpu (JAX's CPU wheel), torch (Keras's torch backend and the
# torch emulations, a multi-GB CUDA build on Linux), ray (sweep --engine ray), flax (the flax adapters), cuda12.
# CI runs `make test` with EXTRAS="--extra cpu --extra torch --extra ray --extra flax" (.ci/run).
EXTRAS   ?= --extra cpu
UV       := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
RUN      := $(UV) run --locked --no-sync
ARGS     ?=

.PHONY: setup bench bench-all bench-timing bench-cpu bench-gpu test test-fast lint compare report clean
.PHONY: docker-requirements wheelhouse-cpu wheelhouse-cuda12 image-cpu image-cuda12 standin-base pin-base

# The stamp names the extras it was synced with: changing EXTRAS syncs again. --inexact adds what the
# extras need and removes nothing, so `make bench` after a CI-style `make test` keeps torch and Ray.
# --compile-bytecode writes every module's .pyc at setup: uv installs without them, and where Python may
# not write them (PYTHONDONTWRITEBYTECODE, a read-only environment) every process of every run compiled
# every module it imports (the main job's four processes: 89 s of CPU time with it, 49 s without, on a
# 2-core machine; bench/vs_seed_script.py). paritybench's own src/ is installed editable, so uv leaves it
# alone: compileall writes its .pyc too (Python still checks each against its source's mtime, so an edited
# module is recompiled in memory, never read stale).
STAMP    := .venv/.paritybench-synced$(subst $() ,,$(subst --extra,-,$(EXTRAS)))

setup: $(STAMP)

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --inexact --compile-bytecode $(EXTRAS)
	.venv/bin/python -m compileall -q src
	@rm -f .venv/.paritybench-synced*
	@touch $@

## The main job: the seed experiment, every arm, one artifact under results/runs/.
bench: setup
	$(RUN) paritybench run $(ARGS)

## The test suite (what CI runs): both tiers, fast and e2e (tests/conftest.py), on JOBS pytest-xdist
## workers (each test file on one worker; JOBS=0 runs in this process). Set PARITYBENCH_REQUIRE_DOCKER=1
## to fail instead of skipping the container tests when Docker is missing, PARITYBENCH_REQUIRE_CHROMIUM=1
## the report.html browser test when Debian's chromium is missing.
JOBS     ?= 2
test: setup lint
	$(RUN) pytest -n $(JOBS) --dist loadfile $(ARGS)

## The fast tier alone (unit tests: no process started), for the edit-test loop; no lint.
test-fast: setup
	$(RUN) pytest -m fast $(ARGS)

## Lint, format and type checks; `make test` runs them first, so CI does too.
## mypy checks src/ with the configuration in pyproject.toml ([tool.mypy]).
LINT_PATHS := src tests bench tools examples
lint: setup
	$(RUN) ruff check $(LINT_PATHS)
	$(RUN) ruff format --check $(LINT_PATHS)
	$(RUN) lint-imports
	$(RUN) mypy

## The catalogue: every built-in workload's preset, one artifact each plus index.json,
## in results/runs/all-<time>/ (ARGS="--out DIR" to choose the folder).
bench-all: setup
	$(RUN) paritybench run --workload all $(ARGS)

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
	rm -rf .venv .tools .pytest_cache .benchmarks .mypy_cache

## Pinned images (docker/Dockerfile; python tools/images.py drives Docker).
## BASE_IMAGE=<local image> builds from another base (the tests use a debootstrap stand-in).
IMAGES   := $(RUN) python tools/images.py
BASE_ARG  = $(if $(BASE_IMAGE),--base-image $(BASE_IMAGE))

docker-requirements: setup   ## re-export docker/requirements-*.txt from uv.lock
	$(IMAGES) export

wheelhouse-cpu wheelhouse-cuda12: wheelhouse-%: setup   ## hashed wheels for linux x86_64 / cp313
	$(IMAGES) wheelhouse $*

image-cpu image-cuda12: image-%: setup   ## build (no network) unless up to date
	$(IMAGES) build $* $(BASE_ARG)

bench-cpu: setup   ## build if needed, run the benchmark in the CPU image; artifacts in results/runs/
	$(IMAGES) bench cpu $(BASE_ARG) -- $(ARGS)

bench-gpu: setup   ## the same in the CUDA image with --gpus all; stops if JAX or TensorFlow sees no GPU
	$(IMAGES) bench cuda12 $(BASE_ARG) -- $(ARGS)

standin-base: setup   ## Debian trixie + python3 via debootstrap (root), for hosts without a registry
	$(IMAGES) standin-base

pin-base: setup   ## refresh BASE_IMAGE's digest in docker/Dockerfile from the registry
	$(IMAGES) pin-base
