# The two commands a newcomer needs: `make demo` and `make test`. Each sets up .venv on first use
# (CPU torch 2.13.0 first, so nothing pulls a multi-GB CUDA build), then runs offline.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.genai-mcp-installed
export HF_HUB_OFFLINE := 1

.PHONY: demo test lint bench clean-venv

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

bench: $(STAMP)
	$(PY) bench/protocol.py

clean-venv:
	rm -rf $(VENV)
