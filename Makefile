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

report: $(STAMP)            ## render every notebook into reports/ (ipynb, html, json, index.html)
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

bench: $(STAMP)             ## timings against the obvious alternative, printed as ratios
	$(PY) bench/run.py

data: $(STAMP)             ## regenerate data/synthetic/ (the canonical reconstruction)
	$(PY) -m trialkit.cohort

lab: $(STAMP)               ## JupyterLab on notebooks/ with this environment's kernel
	$(PY) -m jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

clean:
	rm -rf reports .pytest_cache .ruff_cache
