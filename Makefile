# The two newcomer commands: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# A local copy of the releases laid out like shared/data: used when present (no download); without it every
# file is downloaded, derived or taken from the package (docs/catalog.md). ICEMONITOR_MIRROR= (empty) forces that.
ICEMONITOR_MIRROR ?= $(abspath $(wildcard ../shared/data))

.PHONY: setup run build test bench clean

$(BIN)/icemonitor: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/icemonitor

setup: $(BIN)/icemonitor

build: setup   ## fetch the public releases (or ICEMONITOR_MIRROR) and build the warehouse
	ICEMONITOR_MIRROR="$(ICEMONITOR_MIRROR)" $(BIN)/icemonitor build

run: build     ## build, then serve the dashboard on http://$(HOST):$(PORT)
	$(BIN)/icemonitor serve --host $(HOST) --port $(PORT)

test: setup    ## the test suite (no network; reads ../shared/data); "no tests collected" (pytest exit 5) fails
	$(BIN)/python -m pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$status

bench: setup   ## benchmarks against their baselines (prints ratios)
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
