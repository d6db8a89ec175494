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
	@# mypy cannot see through setup.py's folder mapping; a tree of links gives it the real names.
	mkdir -p .typing/genai_mcp && for d in server client tools; do ln -sfn ../../$$d .typing/genai_mcp/$$d; done
	MYPYPATH=.typing $(VENV)/bin/mypy -p genai_mcp.server -p genai_mcp.client -p genai_mcp.tools
	MYPYPATH=.typing $(VENV)/bin/mypy tests bench examples scripts

bench: $(STAMP)
	$(PY) bench/protocol.py

clean-venv:
	rm -rf $(VENV)
