# Everything runs inside .venv, created on first use from pyproject.toml.
# `make` = set up + render the whole collection to reports/; `make test` = the tests.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: all report test lint format bench lab data clean
.DEFAULT_GOAL := all

all: report

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

report: $(STAMP)            ## render what changed into reports/ and build the site (index.html)
	$(PY) -m trialkit run

test: $(STAMP)              ## lint, unit tests, and a papermill run of every notebook
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: $(STAMP)             ## every benchmark against the obvious alternative, as ratios (BENCH=render: one)
	$(PY) bench/run.py $(BENCH)

data: $(STAMP)             ## regenerate data/synthetic/ (the canonical reconstruction)
	$(PY) -m trialkit.cohort

# make lab                          student copies (lab/, no solutions), a browser opens
# make lab PORT=8890 NO_BROWSER=1    another port; print the URL instead of opening it
# make lab EDITION=instructor        the full notebooks (notebooks/, with solutions)
PORT       ?= 8888
NO_BROWSER ?=
EDITION    ?= student
LAB_DIR    := $(if $(filter instructor,$(EDITION)),notebooks,lab)

lab: $(STAMP)               ## JupyterLab with this environment's kernel (see above)
	$(if $(filter instructor,$(EDITION)),,$(PY) -m trialkit lab-copies lab)
	JUPYTER_CONFIG_DIR=$(CURDIR)/.jupyter $(PY) -m jupyter lab $(LAB_DIR) --port=$(PORT) \
	  $(if $(NO_BROWSER),--no-browser) $(if $(filter 0,$(shell id -u)),--allow-root)

clean:
	rm -rf reports .pytest_cache .ruff_cache
