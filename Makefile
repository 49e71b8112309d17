# Two commands (see README.md). Each creates .venv if missing and installs the pinned
# requirements before acting, so a fresh clone needs nothing but Python 3.11 and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint setup

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/protoecg demo

# The suite in two passes: everything but the browser tests spread over 2 processes
# (pytest-xdist, one per core), then the browser tests alone (a browser page waits on a
# loaded machine as a clinician's would not).
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -n 2 -m "not browser"
	$(VENV)/bin/python -m pytest -m browser

lint: $(STAMP)
	$(VENV)/bin/ruff check .
