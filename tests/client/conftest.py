"""Fixtures for the host's tests: real server processes and a fake OpenAI-compatible HTTP endpoint
(the real engine, `transformers serve`, is the session fixture `running_engine` of tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.fake_openai import FakeOpenAI, serve_fake_openai
from tests.helpers.processes import TOKEN, HttpServer, start_http_server, stop


@pytest.fixture(scope="session")
def openai_server() -> Iterator[FakeOpenAI]:
    """The fake OpenAI-style endpoint, for what the real engine cannot do (see tests/helpers/fake_openai.py)."""
    with serve_fake_openai() as server:
        yield server


@pytest.fixture(scope="session")
def genai_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    """One `genai-mcp serve --transport http` with bearer auth, shared by the host tests."""
    server = start_http_server(tmp_path_factory.mktemp("genai-http"), GENAI_MCP_TOKENS=TOKEN)
    yield server
    stop(server.process)


@pytest.fixture(autouse=True)
def _server_logs_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stdio servers' stderr files (`stderr: file`) land in the test's folder, not in ~/.local/state."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
