"""Real server processes for end-to-end tests: `genai-mcp serve` over stdio and HTTP, and the
/proc look-ups that tell what a process is and what it has loaded."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "TOKEN",
    "HttpServer",
    "child_pids",
    "find_pid",
    "free_port",
    "loaded_shared_objects",
    "serve_command",
    "server_env",
    "start_http_server",
    "stop",
    "wait_until_healthy",
]

TOKEN = "test-token-0123456789abcdef"  # the bearer token HTTP test servers are started with


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
    """`genai-mcp serve --transport http` on a free port, returned once /health answers (30 s at most)."""
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
    wait_until_healthy(proc, base, log_path)
    return HttpServer(base, proc, data_dir, log_path)


def wait_until_healthy(proc: subprocess.Popen[bytes], base: str, log_path: Path, timeout: float = 30) -> None:
    """Return once `base`/health answers 200; kill `proc` and raise (with its log) if it exits or is late."""
    import httpx2

    # Readiness of another process has no event to wait on here: ask the real condition (/health
    # answers) until a deadline, pausing between refused connections.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log_path.read_text()}")
        try:
            if httpx2.get(base + "/health", timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not answer /health within {timeout:g} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


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
