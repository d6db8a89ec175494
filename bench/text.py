"""Text generation speed: KV cache vs none, and what the MCP call adds to a direct generate.

Greedy decoding of 200 new tokens on the house GPT-2 (house/gpt2-pydocs): tokens/s with the KV
cache and without it (target: the cache at least 2x faster), and the wall time of the same
generation called directly (genai_mcp.tools.text.generate_text, in a worker thread as the server
runs it), through an in-memory MCP client (with and without per-token progress notifications) and
over stdio. The cases run interleaved, one of each per round, so a load swing on a shared machine
hits them all; overheads are medians of the per-round differences, ratios are medians against the
direct call of the same run. Target: the in-memory call with progress at most 1.05x the direct
call, and progress notifications still arriving while the text is generated (server/longwork.py
coalesces them to at most one per 50 ms plus the last step; the table reports how many came).

    python bench/text.py [--runs 5] [--tokens 200] [--model M] [--threads 1] [--no-stdio] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from mcp import Client, StdioServerParameters

HERE = Path(__file__).resolve().parent
PROMPTS = [
    "The for statement is used to iterate over the elements of a sequence",
    "A module is a file containing Python definitions and statements",
    "The with statement is used to wrap the execution of a block",
    "Return a new dictionary initialized from",
]
DIRECT_NO_CACHE, DIRECT = "direct, no KV cache", "direct, KV cache"


def generate(args: dict[str, Any]) -> int:
    from genai_mcp.tools.text import GenerateTextRequest, generate_text

    return generate_text(GenerateTextRequest(**args)).completion_tokens


async def timed_direct(args: dict[str, Any]) -> float:
    t0 = time.perf_counter()
    await anyio.to_thread.run_sync(generate, args)
    return time.perf_counter() - t0


PROGRESS_SEEN: list[int] = []  # notifications received per call with progress


async def timed_call(client: Client, args: dict[str, Any], with_progress: bool) -> float:
    notes: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append(progress)

    t0 = time.perf_counter()
    result = await client.call_tool(
        "generate_text", args, progress_callback=on_progress if with_progress else None
    )
    seconds = time.perf_counter() - t0
    assert not result.is_error, result.content
    if with_progress:
        assert notes == sorted(set(notes)) and notes[-1] == args["max_new_tokens"], notes
        PROGRESS_SEEN.append(len(notes))
    return seconds


async def pick_prompt(model: str | None, tokens: int) -> dict[str, Any]:
    """Greedy arguments whose generation runs the full `tokens` (no early end-of-text)."""
    for prompt in PROMPTS:
        args = {"prompt": prompt, "max_new_tokens": tokens, "temperature": 0}
        if model is not None:
            args["model"] = model
        if await anyio.to_thread.run_sync(generate, args) == tokens:
            return args
    raise SystemExit(f"every prompt ended before {tokens} tokens; pass fewer --tokens")


def stdio_server(threads: int) -> StdioServerParameters:
    env = {
        "OMP_NUM_THREADS": str(threads),
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "HF_HUB_OFFLINE": "1",
        "GENAI_MCP_LOG_LEVEL": "WARNING",
    }
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "genai_mcp.server.cli", "serve", "--log-level", "WARNING"],
        env=env,
    )


async def measure(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, list[float]]]:
    from genai_mcp.server.app import create_server
    from genai_mcp.server.settings import ServerSettings

    gen = await pick_prompt(args.model, args.tokens)  # also the warm-up: loads the model
    samples: dict[str, list[float]] = {DIRECT_NO_CACHE: [], DIRECT: []}
    async with AsyncExitStack() as stack:
        clients = {"MCP in-memory": await stack.enter_async_context(Client(create_server(ServerSettings())))}
        if not args.no_stdio:
            clients["MCP stdio"] = await stack.enter_async_context(Client(stdio_server(args.threads)))
        for client in clients.values():
            await timed_call(client, gen, False)  # warm: each server loads the model once
        samples.update({name: [] for name in clients})
        samples["MCP in-memory + progress"] = []
        for _ in range(args.runs):
            samples[DIRECT_NO_CACHE].append(await timed_direct({**gen, "use_cache": False}))
            samples[DIRECT].append(await timed_direct(gen))
            samples["MCP in-memory + progress"].append(await timed_call(clients["MCP in-memory"], gen, True))
            for name, client in clients.items():
                samples[name].append(await timed_call(client, gen, False))
    return gen, samples


def report(gen: dict[str, Any], samples: dict[str, list[float]], args: argparse.Namespace) -> dict[str, Any]:
    import torch

    rows = {
        name: {
            "median_ms": statistics.median(s) * 1000,
            "min_ms": min(s) * 1000,
            "tokens_per_second": args.tokens / statistics.median(s),
            "n": len(s),
        }
        for name, s in samples.items()
    }
    speedup = statistics.median(samples[DIRECT_NO_CACHE]) / statistics.median(samples[DIRECT])
    checks: dict[str, Any] = {"kv_cache_speedup": {"value": speedup, "target": ">= 2", "ok": speedup >= 2}}
    for name, s in samples.items():
        if name.startswith("MCP"):
            extra = statistics.median(m - d for m, d in zip(s, samples[DIRECT], strict=True)) * 1000
            checks[f"{name} overhead_ms"] = {
                "value": extra,
                "ratio": statistics.median(s) / statistics.median(samples[DIRECT]),
            }
    progress = samples["MCP in-memory + progress"]
    ratio = statistics.median(m / d for m, d in zip(progress, samples[DIRECT], strict=True))
    checks["progress_call_vs_direct"] = {"value": ratio, "target": "<= 1.05", "ok": ratio <= 1.05}
    checks["progress_notifications_per_call"] = {
        "value": statistics.median(PROGRESS_SEEN),
        "min": min(PROGRESS_SEEN),
        "max": max(PROGRESS_SEEN),
        "target": ">= 2 (during the run + the last step)",
        "ok": min(PROGRESS_SEEN) >= 2,
    }
    return {
        "prompt": gen["prompt"],
        "model": gen.get("model", "house/gpt2-pydocs"),
        "new_tokens": args.tokens,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "torch_threads": args.threads,
        "rows": rows,
        "checks": checks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--model", default=None, help="default: the house GPT-2")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (OMP_NUM_THREADS for stdio)"
    )
    parser.add_argument(
        "--no-stdio", action="store_true", help="skip the stdio server (it loads torch again)"
    )
    parser.add_argument("--json", type=Path, default=HERE / "results" / "text.json")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    # On a shared CPU torch's OpenMP threads spin-wait for busy cores: with 2 threads on this
    # loaded 2-core machine a generation ran 10-30x slower than with 1, drowning the comparison.
    torch.set_num_threads(args.threads)
    gen, samples = anyio.run(measure, args)
    result = report(gen, samples, args)
    print(
        f"model {result['model']} on {result['device']} ({args.threads} torch threads), "
        f"{args.tokens} new tokens, greedy, {args.runs} interleaved rounds\n"
    )
    print(f"{'case':28} {'median ms':>10} {'min ms':>10} {'tokens/s':>10}")
    for name, r in result["rows"].items():
        print(f"{name:28} {r['median_ms']:10.1f} {r['min_ms']:10.1f} {r['tokens_per_second']:10.1f}")
    print()
    for name, c in result["checks"].items():
        if name == "progress_notifications_per_call":
            print(
                f"{name:38} {c['value']:8.0f}   (min {c['min']}, max {c['max']} for {args.tokens} tokens)"
                f"  target {c['target']}  {'OK' if c['ok'] else 'MISSED'}"
            )
        elif "target" in c:
            print(f"{name:38} {c['value']:8.3f}x  target {c['target']}  {'OK' if c['ok'] else 'MISSED'}")
        else:
            print(f"{name:38} {c['value']:+8.1f} ms  ({c['ratio']:.3f}x the direct call)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
