# The two commands a newcomer needs: `make demo` and `make test`. Each sets up .venv on first use
# (CPU torch 2.13.0 first, so nothing pulls a multi-GB CUDA build), then runs offline.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.genai-mcp-installed
export HF_HUB_OFFLINE := 1

# A venv is not relocatable: the editable install's .pth line holds the checkout's absolute path and
# every script's #! line the venv's, so a venv moved or copied along with its checkout would run the
# old checkout's code (if that still exists) without a word. Rewriting the .pth alone would leave the
# scripts pointing at the old venv, so the stamp records where the venv was built and, when that is
# not where it is now, the venv is rebuilt from scratch (pip's cache keeps that to a minute or two).
VENV_PATH := $(abspath $(VENV))
ifneq ($(shell cat $(STAMP) 2>/dev/null),$(VENV_PATH))
.PHONY: $(STAMP)
endif

.PHONY: demo test lint bench clean-venv

$(STAMP): pyproject.toml
	if [ -f $(STAMP) ] && [ "$$(cat $(STAMP))" != "$(VENV_PATH)" ]; then rm -rf $(VENV); fi
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	echo '$(VENV_PATH)' > $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

test: $(STAMP)
	$(PY) -m pytest --durations=25

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy -p genai_mcp
	$(PY) -m mypy tests bench examples scripts deploy

bench: $(STAMP)
	$(PY) bench/protocol.py

clean-venv:
	rm -rf $(VENV)
