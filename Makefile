# The two commands a user needs: `make measure` and `make test`. Both install what is missing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Optional extras installed by default: `all` (fvcore's cross-check, codecarbon's CPU energy
# estimate) and `dev` (pytest, ruff, ...), so `make test` runs every test from nothing.
EXTRAS ?= all,dev
# A CUDA-capable torch >= 2.4 already in $(PYTHON) (GPU images ship one): the venv is made with
# --system-site-packages and pip keeps that torch (pinned by a constraint) instead of
# downloading another. Evaluated only when the venv is built.
# The version printed is the distribution's (pip's name for it; torch.__version__ may add +cuXYZ).
SYSTEM_TORCH = $(shell $(PYTHON) -c "import torch; from importlib.metadata import version; v = version('torch'); assert tuple(int(x) for x in v.split('+')[0].split('.')[:2]) >= (2, 4) and torch.cuda.is_available(); print(v)" 2>/dev/null)
# PyTorch's wheel index for torch and torchvision (https://pytorch.org/get-started/locally/).
# Unset: where nvidia-smi reports a driver older than the newest CUDA wheels need, the index of
# the newest CUDA that driver runs (harness/hardware/driver_check.py, no torch needed); else PyPI.
TORCH_INDEX_URL ?= $(shell PYTHONPATH=$(CURDIR) $(PYTHON) -m harness.hardware.driver_check --wheel-index 2>/dev/null)
, := ,
PIP_INSTALL := $(PY) -m pip install --progress-bar on
# Where no CUDA device exists, GPU tests are deselected (tests/conftest.py also skips them).
HAS_CUDA = $(shell $(PY) -c "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null && echo 1)
PYTEST_MARK = $(if $(HAS_CUDA),,-m "not gpu")

.PHONY: install test test-fast browser measure check-cuda report lint format clean help

help:
	@echo "make measure   install, then run the default suite (GPU: paper suite; CPU: smoke) and write the report"
	@echo "make test      install, then run the tests (GPU tests deselected without CUDA)"
	@echo "make check-cuda  say whether torch can use the GPUs nvidia-smi lists (and what to install if not)"
	@echo "make test-fast the tests without those marked slow"
	@echo "make lint      ruff check and format check"
	@echo "make clean     remove the venv, caches and generated reports"

install: $(STAMP)

$(STAMP): pyproject.toml
	$(eval TORCH_FOUND := $(SYSTEM_TORCH))
	$(eval TORCH_INDEX := $(if $(TORCH_FOUND),,$(TORCH_INDEX_URL)))
	@echo "make: installing into $(VENV): the harness with extras [$(EXTRAS)] and its dependencies"
	@echo "make: $(if $(TORCH_FOUND),reusing torch $(TORCH_FOUND) from $(PYTHON) (CUDA available): no torch download$(,) the other packages are about 0.5 GB,torch$(if $(TORCH_INDEX), and torchvision from $(TORCH_INDEX), from PyPI) (a CUDA build: about 5-6 GB with its NVIDIA libraries$(,) a CPU build about 1 GB) and about 0.5 GB of other packages$(,) with pip's progress below; a first install takes minutes)"
	test -x $(PY) || $(PYTHON) -m venv $(if $(TORCH_FOUND),--system-site-packages) $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(if $(TORCH_FOUND),echo "torch==$(TORCH_FOUND)" > $(VENV)/torch-constraint.txt)
	$(if $(TORCH_INDEX),$(PIP_INSTALL) torch torchvision --index-url $(TORCH_INDEX))
	$(PIP_INSTALL) $(if $(TORCH_FOUND),--constraint $(VENV)/torch-constraint.txt) -e ".[$(EXTRAS)]"
	touch $(STAMP)

test: install browser
	$(PY) -m pytest $(PYTEST_MARK)

# The report's browser test drives the distribution's Chromium; install it where we may.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    echo "make: installing Chromium from the distribution (about 100 MB) for the report's browser test" && \
	    { apt-get install -y -q chromium >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }; }; } || \
	  echo "skipping Chromium install (not root, no apt-get, or the package could not be installed): the report's browser test will be skipped"

test-fast: install
	$(PY) -m pytest -m "not slow and not gpu"

measure: install
	$(VENV)/bin/harness measure --default-suite

check-cuda: install
	$(PY) -m harness.hardware.driver_check

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
