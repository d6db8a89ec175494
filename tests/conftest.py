"""Shared fixtures: real `genai-mcp serve` processes over stdio and HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.types import CallToolResult, TextContent

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The test process and the server processes it starts share 2 cores; torch's default of one
# thread per core in each makes tiny forwards oversubscribe and run ~100x slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")  # also this process: set before torch is imported

TOKEN = "test-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment a spawned server gets: offline, its own data folder, nothing inherited by accident."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(data_dir)),
        "HF_HUB_OFFLINE": "1",
        "GENAI_MCP_DATA_DIR": str(data_dir),
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",
    }
    env.update(extra)
    return env


def serve_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "genai_mcp.server.cli", "serve", *args]


@dataclass
class HttpServer:
    url: str  # base, e.g. http://127.0.0.1:PORT
    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path

    @property
    def mcp_url(self) -> str:
        return self.url + "/mcp"


def start_http_server(tmp_path: Path, *args: str, **env: str) -> HttpServer:
    import httpx2

    port = free_port()
    data_dir = tmp_path / f"data-{port}"
    log_path = tmp_path / f"server-{port}.log"
    with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            serve_command("--transport", "http", "--port", str(port), *args),
            env=server_env(data_dir, **env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log_path.read_text()}")
        try:
            if httpx2.get(base + "/health", timeout=1).status_code == 200:
                return HttpServer(base, proc, data_dir, log_path)
        except httpx2.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not answer /health within 30 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[HttpServer]:
    server = start_http_server(tmp_path, GENAI_MCP_TOKENS=TOKEN)
    yield server
    stop(server.process)


def loaded_shared_objects(pid: int) -> str:
    """The memory map of a process: which native libraries (e.g. libtorch) it has loaded."""
    return Path(f"/proc/{pid}/maps").read_text()


def find_pid(marker: str) -> int:
    """The pid of the process whose command line contains `marker`."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline and "genai_mcp.server.cli" in cmdline:
                return int(entry.name)
    raise LookupError(marker)


def text_of(result: CallToolResult) -> str:
    """The text of a tool result's first content block (errors and JSON mirrors are text)."""
    block = result.content[0]
    assert isinstance(block, TextContent), block
    return block.text


def ok(result: CallToolResult) -> dict[str, Any]:
    """The structured result of a tool call that must have succeeded (failing with its error text)."""
    assert not result.is_error, text_of(result)
    content: dict[str, Any] | None = result.structured_content
    assert content is not None
    return content


async def call_ok(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    return ok(await client.call_tool(tool, args))


def run_client(server: MCPServer[Any], check: Callable[[Client], Awaitable[None]], **client: Any) -> None:
    """Connect an in-memory Client (options: mode, callbacks...) to `server` and run `check` with it."""

    async def main() -> None:
        async with Client(server, **client) as c:
            await check(c)

    anyio.run(main)
