"""Protocol overhead: genai-mcp vs a bare MCPServer vs a direct function call.

Measures the median and p90 of a trivial tool call in memory, over stdio and over HTTP, and the time
from process start to a `tools/list` answer. Targets (issue 2): genai-mcp start-up within 1.3x of the
bare server's, call overhead within +1.5 ms (stdio) / +4 ms (HTTP) of the bare server's.

    python bench/protocol.py [--calls 200] [--starts 5] [--json bench/results/protocol.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

HERE = Path(__file__).resolve().parent
TOKEN = "bench-token-0123456789abcdef"
GENAI_CALL = ("retrieval_metrics", {"queries": [{"retrieved": ["a", "b"], "relevant": ["b"]}], "k": 2})
BARE_CALL = ("add", {"a": 1, "b": 2})


def stats(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {"median_ms": statistics.median(ms), "p90_ms": ms[int(0.9 * (len(ms) - 1))], "n": len(ms)}


def env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "HF_HUB_OFFLINE": "1",
        "GENAI_MCP_LOG_LEVEL": "WARNING",
        "GENAI_MCP_TOKENS": TOKEN,
    }


def genai_stdio() -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "genai_mcp.server.cli", "serve", "--log-level", "WARNING"],
        env=env(),
    )


def bare_stdio() -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=[str(HERE / "bare_server.py"), "stdio"], env=env()
    )


async def time_calls(client: Client, call: tuple[str, dict[str, Any]], n: int) -> dict[str, float]:
    for _ in range(20):
        await client.call_tool(*call)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        result = await client.call_tool(*call)
        samples.append(time.perf_counter() - t0)
        assert not result.is_error, result.content
    return stats(samples)


async def over(target: Any, call: tuple[str, dict[str, Any]], n: int) -> dict[str, float]:
    async with Client(target) as client:
        return await time_calls(client, call, n)


def start_http(cmd: list[str], port: int, **extra_env: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        cmd, env={**env(), **extra_env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx2.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{cmd} did not start")


async def over_http(port: int, call: tuple[str, dict[str, Any]], n: int) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        return await over(streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http), call, n)


async def start_to_list(params: StdioServerParameters, n: int) -> dict[str, float]:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        async with Client(params) as client:
            await client.list_tools()
            samples.append(time.perf_counter() - t0)
    return stats(samples)


def direct_call(n: int) -> dict[str, float]:
    from genai_mcp.tools.metrics import RetrievalMetricsRequest, retrieval_metrics

    request = GENAI_CALL[1]
    for _ in range(20):
        retrieval_metrics(RetrievalMetricsRequest(**request))
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        retrieval_metrics(RetrievalMetricsRequest(**request))
        samples.append(time.perf_counter() - t0)
    return stats(samples)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from genai_mcp.server.app import create_server

    sys.path.insert(0, str(HERE))
    import bare_server

    n = args.calls
    rows: dict[str, Any] = {"direct tools/ call": direct_call(n)}
    rows["in-memory genai-mcp"] = await over(create_server(), GENAI_CALL, n)
    rows["in-memory bare"] = await over(bare_server.server, BARE_CALL, n)
    rows["stdio genai-mcp"] = await over(genai_stdio(), GENAI_CALL, n)
    rows["stdio bare"] = await over(bare_stdio(), BARE_CALL, n)

    procs = []
    try:
        gp, bp = free_port(), free_port()
        genai_cmd = [
            sys.executable,
            "-m",
            "genai_mcp.server.cli",
            "serve",
            "--transport",
            "http",
            "--port",
            str(gp),
        ]
        procs.append(start_http([*genai_cmd, "--log-level", "WARNING"], gp))
        procs.append(start_http([sys.executable, str(HERE / "bare_server.py"), "http", str(bp)], bp))
        rows["http genai-mcp (bearer)"] = await over_http(gp, GENAI_CALL, n)
        rows["http bare"] = await over_http(bp, BARE_CALL, n)
    finally:
        for p in procs:
            p.terminate()
            p.wait()

    rows["start -> tools/list genai-mcp (stdio)"] = await start_to_list(genai_stdio(), args.starts)
    rows["start -> tools/list bare (stdio)"] = await start_to_list(bare_stdio(), args.starts)
    return rows


def verdicts(rows: dict[str, Any]) -> dict[str, Any]:
    def med(key: str) -> float:
        return float(rows[key]["median_ms"])

    start_ratio = med("start -> tools/list genai-mcp (stdio)") / med("start -> tools/list bare (stdio)")
    stdio_extra = med("stdio genai-mcp") - med("stdio bare")
    http_extra = med("http genai-mcp (bearer)") - med("http bare")
    return {
        "startup_ratio": {"value": start_ratio, "target": "<= 1.3", "ok": start_ratio <= 1.3},
        "stdio_extra_ms": {"value": stdio_extra, "target": "<= 1.5", "ok": stdio_extra <= 1.5},
        "http_extra_ms": {"value": http_extra, "target": "<= 4", "ok": http_extra <= 4},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--json", type=Path, default=HERE / "results" / "protocol.json")
    args = parser.parse_args()
    rows = anyio.run(run, args)
    checks = verdicts(rows)
    print(f"{'case':42} {'median ms':>10} {'p90 ms':>10} {'n':>5}")
    for name, r in rows.items():
        print(f"{name:42} {r['median_ms']:10.2f} {r['p90_ms']:10.2f} {r['n']:5d}")
    print()
    for name, c in checks.items():
        print(f"{name:20} {c['value']:8.2f}  target {c['target']:8}  {'OK' if c['ok'] else 'MISSED'}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"rows": rows, "checks": checks}, indent=2))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
