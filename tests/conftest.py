"""Fixtures shared by all tests (helpers they call live in tests/helpers/)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.engine import RunningEngine, start_engine
from tests.helpers.processes import TOKEN, HttpServer, start_http_server, stop

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The test process and the server processes it starts share 2 cores; torch's default of one
# thread per core in each makes tiny forwards oversubscribe and run ~100x slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")  # also this process: set before torch is imported


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[HttpServer]:
    """A `genai-mcp serve --transport http` with bearer auth (TOKEN), for one test."""
    server = start_http_server(tmp_path, GENAI_MCP_TOKENS=TOKEN)
    yield server
    stop(server.process)


@pytest.fixture(scope="session")
def running_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEngine]:
    """One `transformers serve` with the house GPT-2 for the whole session (tests/helpers/engine.py)."""
    engine = start_engine(tmp_path_factory.mktemp("engine"))
    yield engine
    stop(engine.process)


@pytest.fixture(scope="session")
def sd_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Stable Diffusion-shaped pipeline folder with random weights (tests/helpers/sd_checkpoint.py)."""
    from tests.helpers.sd_checkpoint import make_sd_checkpoint

    return make_sd_checkpoint(tmp_path_factory.mktemp("sd-checkpoint"))
