# `make demo` and `make test` are all a newcomer needs: each creates .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1

.PHONY: demo test lint sample clean

$(VENV)/.requirements: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.requirements-test: requirements-test.txt $(VENV)/.requirements
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

demo: $(VENV)/.requirements
	$(OFFLINE) HF_HOME=$(CURDIR)/.hf-demo $(PY) -m tools.demo

test: lint
	$(PY) -m pytest

lint: $(VENV)/.requirements-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

sample: $(VENV)/.requirements
	$(PY) -m tools.sample data/sample

clean:
	rm -rf $(VENV) .hf-demo .pytest_cache
