# The two commands a user needs: `make measure` and `make test`. Both install what is missing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Where no CUDA device exists, GPU tests are deselected (tests/conftest.py also skips them).
HAS_CUDA = $(shell $(PY) -c "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null && echo 1)
PYTEST_MARK = $(if $(HAS_CUDA),,-m "not gpu")

.PHONY: install test test-fast browser measure report lint format clean help

help:
	@echo "make measure   install, then run the default suite (GPU: paper suite; CPU: smoke) and write the report"
	@echo "make test      install, then run the tests (GPU tests deselected without CUDA)"
	@echo "make test-fast the tests without those marked slow"
	@echo "make lint      ruff check and format check"
	@echo "make clean     remove the venv, caches and generated reports"

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

test: install browser
	$(PY) -m pytest $(PYTEST_MARK)

# The report's browser test drives the distribution's Chromium; install it where we may.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    apt-get install -y -q chromium >/dev/null 2>&1; } || \
	  echo "skipping Chromium install (not root or no apt-get): the report's browser test will be skipped"

test-fast: install
	$(PY) -m pytest -m "not slow and not gpu"

measure: install
	$(VENV)/bin/harness measure --default-suite

report: install
	$(VENV)/bin/harness report

lint: install
	$(VENV)/bin/ruff check harness models tests benchmarks
	$(VENV)/bin/ruff format --check harness models tests benchmarks

format: install
	$(VENV)/bin/ruff format harness models tests benchmarks
	$(VENV)/bin/ruff check --fix harness models tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info build dist
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find reports -mindepth 1 -not -path 'reports/gpu*' -not -name README.md -delete 2>/dev/null || true
