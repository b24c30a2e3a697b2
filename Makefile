# Two commands on a fresh machine: `make run` (install + start on the embedded defaults)
# and `make test` (install + the test suite). Everything else is for development.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install install-dev run test lint format worker beat bench clean-data

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

test: install-dev
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

worker: install
	$(VENV)/bin/celery -A dify worker -l info

beat: install
	$(VENV)/bin/celery -A dify beat -l info

clean-data:
	rm -rf data/pg data/media

bench: install-dev
	$(PIP) install --quiet -r requirements-bench.txt
	$(PY) bench/engine.py --quick
	$(PY) bench/api.py --quick
	$(PY) bench/ingest.py --quick
	$(PY) bench/retrieval.py --quick
	$(PY) bench/sandbox.py --quick
