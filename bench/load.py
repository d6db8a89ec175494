"""Many callers at once over HTTP: throughput, tail latency and errors, against a bare MCPServer.

    python bench/load.py [--sessions 20] [--calls 10] [--soak 0] [--json bench/results/load.json]

Two servers as separate processes on loopback, started the way an operator starts them: genai-mcp
(`genai-mcp serve --transport http`, bearer token, default settings) and bench/bare_server.py (a
bare MCPServer with one trivial tool), the same-run baseline. From this process, --sessions MCP
client sessions (the SDK's Client over streamable HTTP) each make --calls calls at once:

    bare            the bare server's `add`
    cheap           genai-mcp's text_metrics and retrieval_metrics, alternating (~1-2 ms of work
                    each: what is left is the protocol's cost, comparable with the bare server's)
    mixed           genai-mcp's text_metrics, classification_metrics (~8 ms in scikit-learn, the
                    reference implementation, mostly its input checks) and classify_image (a 16x16
                    PNG on the house ViT), in turn

Reported per way: calls/s (all sessions' calls over the wall time), p50 / p99 latency of one call,
errors (exceptions and error results). --soak N then runs N rounds of the mixed load and reads
genai-mcp's resident memory (VmRSS) after each: growth from round 2 (after warm-up) to the last.

Targets (issue 15): cheap calls/s >= 0.8x the bare server's; 0 errors; mixed p99 < 250 ms; soak RSS
growth < 2 %.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from protocol import TOKEN, free_port, start_http  # noqa: E402

TARGETS = {"cheap_vs_bare": 0.8, "errors": 0, "mixed_p99_ms": 250.0, "soak_rss_growth": 0.02}


def digit_png() -> str:
    from genai_mcp.tools.house.digits import digit_images

    image = digit_images("test")[0][0]
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


Call = tuple[str, dict[str, Any]]


def calls_for(way: str, png: str) -> list[Call]:
    text: Call = (
        "text_metrics",
        {"candidates": ["the cat sat on the mat"], "references": [["a cat sat on the mat"]]},
    )
    labels: Call = ("classification_metrics", {"y_true": [0, 1, 2, 1, 0], "y_pred": [0, 2, 2, 1, 0]})
    ranked: Call = (
        "retrieval_metrics",
        {"queries": [{"retrieved": ["a", "b", "c"], "relevant": ["b"]}], "k": 3},
    )
    image: Call = ("classify_image", {"image": png, "top_k": 3})
    ways: dict[str, list[Call]] = {
        "bare": [("add", {"a": 1, "b": 2})],
        "cheap": [text, ranked],
        "mixed": [text, labels, image],
    }
    return ways[way]


async def session(url: str, way: list[tuple[str, dict[str, Any]]], calls: int, out: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            await client.list_tools()
            out["ready"].append(1)
            await out["go"].wait()
            for i in range(calls):
                name, arguments = way[i % len(way)]
                t0 = time.perf_counter()
                try:
                    result = await client.call_tool(name, arguments)
                    if result.is_error:
                        out["errors"].append(f"{name}: {result.content}")
                except Exception as exc:  # counted, not raised: the load goes on
                    out["errors"].append(f"{name}: {type(exc).__name__}: {exc}")
                out["latencies"].append(time.perf_counter() - t0)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(
    url: str, pid: int, way: list[tuple[str, dict[str, Any]]], sessions: int, calls: int
) -> dict[str, Any]:
    out: dict[str, Any] = {"latencies": [], "errors": [], "ready": [], "go": anyio.Event()}
    t0 = cpu0 = 0.0
    async with anyio.create_task_group() as tg:
        for _ in range(sessions):
            tg.start_soon(session, url, way, calls, out)
        while len(out["ready"]) < sessions:  # every session connected before the clock starts
            await anyio.sleep(0.01)
        t0, cpu0 = time.perf_counter(), cpu_seconds(pid)
        out["go"].set()
    wall, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    ms = sorted(x * 1000 for x in out["latencies"])
    return {
        "calls": len(ms),
        "calls_per_s": round(len(ms) / wall, 1),
        "server_cpu_ms_per_call": round(cpu * 1000 / len(ms), 2),
        "p50_ms": round(statistics.median(ms), 1),
        "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 1),
        "errors": len(out["errors"]),
        "first_errors": out["errors"][:3],
    }


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    gp, bp = free_port(), free_port()
    data = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-load-{os.getpid()}"
    genai_cmd = [sys.executable, "-m", "genai_mcp.server.cli", "serve", "--transport", "http"]
    genai_cmd += ["--port", str(gp), "--log-level", "WARNING", "--data-dir", str(data)]
    niceness = {} if args.work_niceness is None else {"GENAI_MCP_WORK_NICENESS": str(args.work_niceness)}
    procs = [
        start_http(genai_cmd, gp, **niceness),
        start_http([sys.executable, str(HERE / "bare_server.py"), "http", str(bp)], bp),
    ]
    png = digit_png()
    genai, bare = f"http://127.0.0.1:{gp}/mcp", f"http://127.0.0.1:{bp}/mcp"
    report: dict[str, Any] = {
        "work_niceness": args.work_niceness,
        "sessions": args.sessions,
        "calls_per_session": args.calls,
        "load_average": os.getloadavg(),
    }
    try:
        gpid, bpid = procs[0].pid, procs[1].pid
        await load(genai, gpid, calls_for("mixed", png), 2, 3)  # warm: imports, the ViT in the cache
        await load(bare, bpid, calls_for("bare", png), 2, 3)
        ways: dict[str, list[dict[str, Any]]] = {"bare": [], "cheap": [], "mixed": []}
        for _ in range(args.rounds):  # interleaved, so drift in load hits each way alike
            ways["bare"].append(await load(bare, bpid, calls_for("bare", png), args.sessions, args.calls))
            ways["cheap"].append(await load(genai, gpid, calls_for("cheap", png), args.sessions, args.calls))
            ways["mixed"].append(await load(genai, gpid, calls_for("mixed", png), args.sessions, args.calls))
        report["ways"] = {name: summary(rounds) for name, rounds in ways.items()}
        if args.soak:
            rss = []
            for _ in range(args.soak):
                await load(genai, gpid, calls_for("mixed", png), args.sessions, args.calls)
                rss.append(rss_bytes(gpid))
            report["soak_rss_mb"] = [round(r / 2**20, 1) for r in rss]
            report["soak_rss_growth"] = round(rss[-1] / rss[1] - 1, 4) if len(rss) > 1 else None
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
    return report


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The median round by calls/s, with every round's errors added up."""
    middle = sorted(rounds, key=lambda r: r["calls_per_s"])[len(rounds) // 2]
    return {
        **middle,
        "errors": sum(r["errors"] for r in rounds),
        "rounds_calls_per_s": [r["calls_per_s"] for r in rounds],
    }


def verdicts(report: dict[str, Any]) -> dict[str, Any]:
    ways = report["ways"]
    ratio = ways["cheap"]["calls_per_s"] / ways["bare"]["calls_per_s"]
    capacity = ways["bare"]["server_cpu_ms_per_call"] / ways["cheap"]["server_cpu_ms_per_call"]
    errors = sum(w["errors"] for w in ways.values())
    checks = {
        "cheap server capacity (1 / CPU per call) vs bare": (
            round(capacity, 2),
            TARGETS["cheap_vs_bare"],
            capacity >= TARGETS["cheap_vs_bare"],
        ),
        "cheap calls/s vs bare": (
            round(ratio, 2),
            TARGETS["cheap_vs_bare"],
            ratio >= TARGETS["cheap_vs_bare"],
        ),
        "errors": (errors, TARGETS["errors"], errors == 0),
        "mixed p99 ms": (
            ways["mixed"]["p99_ms"],
            TARGETS["mixed_p99_ms"],
            ways["mixed"]["p99_ms"] < TARGETS["mixed_p99_ms"],
        ),
    }
    if report.get("soak_rss_growth") is not None:
        growth = report["soak_rss_growth"]
        checks["soak RSS growth"] = (growth, TARGETS["soak_rss_growth"], growth < TARGETS["soak_rss_growth"])
    return {k: {"value": v, "target": t, "ok": ok} for k, (v, t, ok) in checks.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--calls", type=int, default=10, help="calls per session per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each way (the median is reported)")
    parser.add_argument("--soak", type=int, default=0, help="mixed rounds for the RSS check (0: none)")
    parser.add_argument("--work-niceness", type=int, help="GENAI_MCP_WORK_NICENESS (default: the server's)")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "load.json")
    args = parser.parse_args()
    report = anyio.run(run, args)
    report["checks"] = verdicts(report)
    print(f"{args.sessions} HTTP sessions x {args.calls} calls, load before {report['load_average']}")
    print(
        f"  {'way':6} {'calls/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'server CPU ms/call':>19}   rounds"
    )
    for name, w in report["ways"].items():
        print(
            f"  {name:6} {w['calls_per_s']:8.1f} {w['p50_ms']:7.1f} {w['p99_ms']:7.1f} {w['errors']:6} "
            f"{w['server_cpu_ms_per_call']:19.2f}   {w['rounds_calls_per_s']}"
        )
    if "soak_rss_mb" in report:
        print(f"  soak RSS MB per round: {report['soak_rss_mb']}")
    for name, c in report["checks"].items():
        print(f"  {name}: {c['value']} (target {c['target']})  {'OK' if c['ok'] else 'MISSED'}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
