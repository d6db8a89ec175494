"""Real `genai-mcp worker` processes on a test database, and what their logs and procrastinate say."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

__all__ = ["WorkerProcess", "jobs_started", "start_worker", "wait_for_workers", "worker_command"]


def worker_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "genai_mcp.cli", "worker", *args]


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def start_worker(log_path: Path, env: dict[str, str]) -> WorkerProcess:
    """`genai-mcp worker` with `env` (server_env(...) plus GENAI_MCP_DATABASE_URL), logging to `log_path`."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(worker_command(), env=env, stdout=log, stderr=subprocess.STDOUT)
    return WorkerProcess(process, log_path)


def wait_for_workers(url: str, count: int, workers: list[WorkerProcess], timeout: float = 90) -> None:
    """Until `count` procrastinate workers are registered in the database (each has opened its pool)."""
    deadline = time.monotonic() + timeout
    while True:
        for w in workers:
            if w.process.poll() is not None:
                raise RuntimeError(f"a worker exited with {w.process.returncode}:\n{w.log()[-3000:]}")
        with psycopg.connect(url) as db:
            found = db.execute("SELECT to_regclass('procrastinate_workers')").fetchone()
            registered = 0
            if found is not None and found[0] is not None:
                row = db.execute("SELECT count(*) FROM procrastinate_workers").fetchone()
                registered = int(row[0]) if row else 0
        if registered >= count:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{registered} of {count} workers registered in {timeout:.0f} s")
        time.sleep(0.2)


def jobs_started(worker: WorkerProcess) -> list[str]:
    """The job ids this worker started, from its log, in order."""
    return re.findall(r"job (lora-[0-9a-f]+) started on worker", worker.log())
