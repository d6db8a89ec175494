"""A real `genai-mcp serve` killed (SIGKILL) mid-training, and started again on the same data folder:
the finished job is still listed, the one that was training is listed failed, and only the finished
job's adapter exists (no half adapter, no leftover temporary folder)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from genai_mcp.tools.lora.records import INTERRUPTED
from tests.helpers.processes import TOKEN, HttpServer, start_http_server, stop
from tests.helpers.results import ok

T = TypeVar("T")
TEXTS = [
    f"the heron number {i} waits by the {place} at dusk." for i, place in enumerate(["pond", "weir"] * 6)
]


def connect(server: HttpServer, check: Callable[[Client], Awaitable[T]]) -> T:
    async def main() -> T:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=180.0)) as http:
            async with Client(streamable_http_client(server.mcp_url, http_client=http)) as client:
                return await check(client)

    return anyio.run(main)


def test_job_records_survive_a_killed_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"GENAI_MCP_DATA_DIR": str(data), "GENAI_MCP_TOKENS": TOKEN, "GENAI_MCP_LOG_LEVEL": "WARNING"}
    train = {"task": "causal-lm", "dataset": TEXTS, "confirm": True}

    async def train_then_start_a_long_one(client: Client) -> tuple[str, str]:
        done = ok(
            await client.call_tool(
                "lora_finetune", {**train, "name": "kept", "max_steps": 2, "wait_seconds": 150}
            )
        )
        assert done["status"] == "succeeded", done
        long = ok(
            await client.call_tool(
                "lora_finetune", {**train, "name": "cut", "max_steps": 2000, "wait_seconds": 0}
            )
        )
        job_id = long["job"]["job_id"]
        # The job runs on the server's own thread: poll its real state until a step is done.
        deadline = time.monotonic() + 120
        while (status := ok(await client.call_tool("job_status", {"job_id": job_id})))["step"] < 1:
            assert status["state"] in ("queued", "running") and time.monotonic() < deadline, status
            await anyio.sleep(0.2)
        return done["job"]["job_id"], job_id

    first = start_http_server(tmp_path, **env)
    try:
        kept, cut = connect(first, train_then_start_a_long_one)
    finally:
        first.process.kill()  # no shutdown: what a crash or the OOM killer does
        first.process.wait()

    async def listed(client: Client) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        jobs = ok(await client.call_tool("list_jobs", {}))["jobs"]
        return jobs, ok(await client.call_tool("job_status", {"job_id": cut}))

    second = start_http_server(tmp_path, **env)
    try:
        jobs, status = connect(second, listed)
    finally:
        stop(second.process)
    assert [j["job_id"] for j in jobs] == [cut, kept]
    assert jobs[1]["state"] == "succeeded" and jobs[1]["step"] == 2 and jobs[1]["result"]["adapter"] == "kept"
    assert status["state"] == "failed" and status["error"] == INTERRUPTED.format(state="running")
    assert status["step"] >= 1 and status["adapter"] == "cut"
    assert sorted(p.name for p in (data / "adapters").iterdir()) == ["kept"]
