"""Fixtures for the host's tests: real server processes and a real OpenAI-compatible HTTP endpoint."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.conftest import TOKEN, HttpServer, free_port, serve_command, server_env, start_http_server, stop

CALLBACKS_SERVER = Path(__file__).parent / "servers" / "callbacks_server.py"
OPENAI_KEY = "sk-test-0123456789"


def callbacks_entry(name: str = "callbacks-test", **extra: Any) -> dict[str, Any]:
    """A config entry that starts tests/client/servers/callbacks_server.py over stdio."""
    return {"command": sys.executable, "args": [str(CALLBACKS_SERVER), "--name", name], **extra}


def genai_stdio_entry(data_dir: Path, **extra: Any) -> dict[str, Any]:
    """A config entry that starts `genai-mcp serve` over stdio; `data_dir` also marks its command line."""
    command = serve_command("--data-dir", str(data_dir))
    return {"command": command[0], "args": command[1:], "env": server_env(data_dir), **extra}


def child_pids() -> set[int]:
    """Pids whose parent is this process (zombies included: an unreaped child is left behind too)."""
    me = str(os.getpid())
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # Field 4 is the parent pid; the command name (field 2) may hold spaces, so split after ')'.
            if stat.rsplit(")", 1)[1].split()[1] == me:
                found.add(int(entry.name))
    return found


@dataclass
class FakeOpenAI:
    """A chat-completions endpoint on 127.0.0.1 that answers `echo: <last message>` and records requests."""

    url: str  # base URL, ending in /v1
    requests: list[dict[str, Any]] = field(default_factory=list)


def _openai_app(record: FakeOpenAI) -> Starlette:
    async def completions(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {OPENAI_KEY}":
            return JSONResponse({"error": {"message": "invalid api key"}}, status_code=401)
        body = await request.json()
        record.requests.append(body)
        answer = "echo: " + body["messages"][-1]["content"]
        return JSONResponse(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
                ],
            }
        )

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


@pytest.fixture(scope="session")
def openai_server() -> Iterator[FakeOpenAI]:
    port = free_port()
    record = FakeOpenAI(url=f"http://127.0.0.1:{port}/v1")
    config = uvicorn.Config(
        _openai_app(record), host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fake-openai", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake OpenAI server did not start")
        time.sleep(0.02)
    yield record
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="session")
def genai_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    """One `genai-mcp serve --transport http` with bearer auth, shared by the host tests."""
    server = start_http_server(tmp_path_factory.mktemp("genai-http"), GENAI_MCP_TOKENS=TOKEN)
    yield server
    stop(server.process)
