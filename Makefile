# Two commands set everything up: `make demo` and `make test`.
PYTHON ?= python3
NICE ?=
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test test-fast lint typecheck typecheck-wheel collect pytest docs cli-docs test-browser test-containers bench clean

# A venv without the pip ensurepip bundles (installing and compiling it took 7 s), then the
# newest pip put into it by the interpreter's own pip (`--python`, pip 22.3 and later); where
# that pip is missing or older, ensurepip's, upgraded (an old pip warns about every file://
# index it cannot read).
$(BIN)/python:
	$(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip --python $(BIN)/python install -qq --no-compile pip 2>/dev/null || \
		{ $(BIN)/python -m ensurepip > /dev/null && $(BIN)/python -m pip install --quiet --upgrade pip; }

# pip compiles bytecode one file after another; compileall uses every core (-j 0), and leaves
# out what pcr never imports (a package's data that does not parse is left out too: `|| true`).
# The checkout's own code is compiled too: with PYTHONDONTWRITEBYTECODE set, as on the project
# machines, every job process the demo starts would otherwise compile what it imports anew.
# (`make test` lets the suite write the bytecode of what it imports instead: see `pytest`.)
NOT_IMPORTED := /(pip|setuptools|tox|mypyc|sympy|networkx|graphql|aws_xray_sdk|playwright)/
COMPILE := $(BIN)/python -m compileall -q -j 0 -x '$(NOT_IMPORTED)'
$(STAMP_RUN): pyproject.toml pcr_sdk/_version.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet --no-compile -e '.[local]'
	$(COMPILE) $(VENV)/lib pcr_sdk examples > /dev/null || true
	touch $@

$(STAMP_DEV): pyproject.toml pcr_sdk/_version.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet --no-compile -e '.[dev]'
	touch $@ $(STAMP_RUN)

# pytest's rewritten test modules, and the bytecode of what collecting imports, cached in
# __pycache__: the two workers then read them instead of both compiling everything
collect: $(STAMP_DEV)
	PYTHONDONTWRITEBYTECODE= $(NICE) $(BIN)/python -m pytest --collect-only -q -m "not containers" > /dev/null

demo: $(STAMP_RUN)
	$(BIN)/pcr demo
	@echo "pcr is $(BIN)/pcr: run '. $(BIN)/activate' to put it (and its python) on PATH" >&2

lint: $(STAMP_DEV)
	$(NICE) $(BIN)/ruff check pcr_sdk tests examples benchmarks docs/_gen
	$(NICE) $(BIN)/ruff format --check pcr_sdk tests examples benchmarks docs/_gen
	$(NICE) $(BIN)/pydoclint --config=pyproject.toml --quiet pcr_sdk

typecheck: $(STAMP_DEV)
	$(BIN)/mypy

# A user's app, type-checked with --strict --disallow-any-expr against a wheel built from this
# checkout and installed with `pip install "<wheel>[local]" mypy` in a venv of its own
# (.venv/wheel-check, made anew when pyproject.toml changes): tests/typing/wheel/check.py.
typecheck-wheel: $(STAMP_DEV)
	$(BIN)/python tests/typing/wheel/check.py

# The suite on PYTEST_WORKERS processes (pytest-xdist): its tests wait on subprocesses and
# sockets much of the time, so two workers on two cores take about 60 % of one's time.
# Real containers are `make test-containers`'s. Bytecode is written as modules are first
# imported, whatever PYTHONDONTWRITEBYTECODE says (the project machines set it): otherwise
# each of the suite's few hundred processes compiles what it imports anew (pcr_sdk alone is
# 0.35 s of CPU), and compiling all of .venv beforehand cost 39 s of CPU for the few modules used.
PYTEST_WORKERS ?= 2
pytest: $(STAMP_DEV)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "not containers" --durations=20

# docs/cli.md's reference, generated from the typer app into the file (a test checks it)
cli-docs: $(STAMP_DEV)
	$(BIN)/python docs/_gen/hooks.py

# The documentation site in site/: warnings (a broken link, a missing page) fail it; no network.
docs: $(STAMP_DEV)
	NO_MKDOCS_2_WARNING=1 $(NICE) $(BIN)/mkdocs build --strict --quiet

# the checks, the docs build and the collection side by side on every core, then the suite
# (the suite's timing tests want both cores to themselves). mypy takes longest (25 s of one
# core): the others run niced, on what it leaves (the four side by side: 37 s, 34 s so).
test: $(STAMP_DEV)
	$(MAKE) --no-print-directory -j 4 typecheck lint docs collect NICE="nice -n 10"
	$(MAKE) --no-print-directory pytest

# The unit tests only: no subprocess, no server, no MotoWorld, no browser, not the fault or
# conformance suites; hypothesis on its small `fast` profile. Under 20 s, for the edit-test
# loop. Each module marks what it needs (markers: tests/conftest.py); a unit test that starts a
# process, a server or mocked AWS fails under PCR_TEST_FAST=1, naming the marker it lacks.
FAST_MARKERS := not (slow or subprocess or integration or browser or conformance or containers)
test-fast: $(STAMP_DEV)
	PYTHONDONTWRITEBYTECODE= PCR_TEST_FAST=1 HYPOTHESIS_PROFILE=fast $(BIN)/python -m pytest -q -m "$(FAST_MARKERS)"

# The report's page in headless Chromium (Debian's /usr/bin/chromium: apt-get install chromium);
# screenshots land in test-artifacts/report/. Part of `make test` too.
test-browser: $(STAMP_DEV)
	$(BIN)/python -m pytest -m browser

# Real containers (docs/containers.md): tests/containers and the conformance suite's
# [containers] target, on PCR_TEST_CONTAINERS (podman or docker; default: the first that
# answers). They skip, saying what they need, when no runtime answers. The examples' worker
# image is built if missing (PCR_CONTAINER_BUILD_ARGS: extra build options).
test-containers: $(STAMP_DEV)
	$(BIN)/python -m pytest -m containers tests/containers tests/conformance

bench: $(STAMP_DEV)
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) build site *.egg-info .mypy_cache .pytest_cache .ruff_cache .hypothesis test-artifacts
