# The two newcomer commands: `make run` and `make test`.
SHELL  := /bin/bash
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# A local copy of the releases laid out like shared/data: used when present (no download); without it every
# file is downloaded, derived or taken from the package (docs/catalog.md). ICEMONITOR_MIRROR= (empty) forces that.
ICEMONITOR_MIRROR ?= $(abspath $(wildcard ../shared/data))

.PHONY: setup run build test bench clean messages

$(BIN)/icemonitor: pyproject.toml
	@echo "== set-up 1/2: a virtual environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@echo "== set-up 2/2: installing icemonitor and its dependencies (the longest step; pip lists each package)"
	set -o pipefail; $(BIN)/pip install -e '.[test]' 2>&1 | grep --line-buffered -E '^(Collecting|Installing|Successfully|ERROR)'
	touch $(BIN)/icemonitor
	@echo "== set-up done: run commands as .venv/bin/icemonitor, or activate the environment first: . .venv/bin/activate"

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

LOCALE := src/icemonitor/messages/locale
messages: setup  ## extract the display text (babel.cfg) into the catalog template and merge it into each .po
	mkdir -p build
	PYTHONPATH=src $(BIN)/pybabel extract -F babel.cfg --no-default-keywords -k msg:1 --sort-by-file \
	  --project icemonitor -o build/icemonitor.pot .
	$(BIN)/pybabel update -i build/icemonitor.pot -d $(LOCALE) -D icemonitor -l es --no-fuzzy-matching \
	  --ignore-obsolete --width 120

clean:
	rm -rf $(VENV) build *.egg-info
