"""Text generation in-process vs on an inference engine: tokens/s and time to first token.

The same greedy prompts through genai_mcp.tools.text.generate_text (the model in this process) and
through generate_on_engine (genai_mcp.tools.text.engine) against `transformers serve` started here
with the same house GPT-2 folder, CPU, the same torch thread count in both. The two paths run
interleaved, one call of each per prompt per round, so a load swing on a shared machine hits both.
Time to first token: from the call until the first progress call (the first decoded token
in-process, the first streamed event on the engine: it includes the HTTP round trip and the
engine's prefill). Tokens/s: completion tokens / wall time of the whole call. Each round also sends
all the prompts at once (a thread each) down each path: tokens/s in all, where an engine's
continuous batching (--continuous-batching) can pay. Ratios are medians of the per-call ratios
engine / in-process (the concurrent one: of the medians). --url measures an engine already running instead
(`--model` is then its model name; --flavor as GENAI_MCP_TEXT_ENGINE_FLAVOR).

    python bench/engine.py [--runs 5] [--tokens 128] [--threads 1] [--continuous-batching]
                           [--url URL --model NAME] [--json PATH]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
HOUSE_GPT2 = HERE.parent / "tools" / "house_models" / "gpt2-pydocs"
PROMPTS = [
    "The for statement is used to iterate over the elements of a sequence",
    "A module is a file containing Python definitions and statements",
    "The with statement is used to wrap the execution of a block",
    "Return a new dictionary initialized from",
]


def start_engine(threads: int, continuous_batching: bool) -> tuple[subprocess.Popen[bytes], str, float]:
    """`transformers serve` on a free loopback port: (process, base URL, seconds until /health)."""
    import httpx2

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [str(Path(sys.executable).with_name("transformers")), "serve", str(HOUSE_GPT2)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    if continuous_batching:
        command.append("--continuous-batching")
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1"}
    log = tempfile.NamedTemporaryFile(prefix="transformers-serve-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 120:
        if proc.poll() is not None:
            raise SystemExit(f"transformers serve exited with {proc.returncode}; see {log.name}")
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc, f"http://127.0.0.1:{port}/v1", time.perf_counter() - t0
        except httpx2.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"transformers serve did not answer /health in 120 s; see {log.name}")


def timed(generate: Callable[[Any], Any]) -> dict[str, float]:
    """One call: wall seconds, seconds to the first token, completion tokens."""
    first: list[float] = []

    def progress(done: int, total: int | None, message: str | None = None) -> None:
        if not first:
            first.append(time.perf_counter())

    t0 = time.perf_counter()
    result = generate(progress)
    wall = time.perf_counter() - t0
    return {"wall": wall, "ttft": (first[0] if first else t0 + wall) - t0, "tokens": result.completion_tokens}


Samples = dict[str, list[dict[str, float]]]


def measure(args: argparse.Namespace, url: str, model: str) -> tuple[Samples, Samples]:
    """Per-call samples of each path, and per-round samples of all prompts at once on each path."""
    from genai_mcp.tools.text import GenerateTextRequest, generate_text
    from genai_mcp.tools.text.engine import Engine, generate_on_engine

    engine = Engine(url=url, model=model, flavor=args.flavor, timeout_seconds=120)
    requests = [GenerateTextRequest(prompt=p, max_new_tokens=args.tokens, temperature=0) for p in PROMPTS]
    for request in requests:  # warm-up: loads the model here, and the engine's first request
        here, there = generate_text(request), generate_on_engine(request, engine)
        if (here.text, here.completion_tokens) != (there.text, there.completion_tokens):
            raise SystemExit(f"greedy texts differ for {request.prompt!r}: {here.text!r} vs {there.text!r}")
    samples: dict[str, list[dict[str, float]]] = {"in-process": [], "engine": []}
    together: dict[str, list[dict[str, float]]] = {"in-process": [], "engine": []}
    for _ in range(args.runs):
        for request in requests:
            samples["in-process"].append(timed(functools.partial(generate_text, request)))
            samples["engine"].append(timed(functools.partial(generate_on_engine, request, engine)))
        together["in-process"].append(concurrent(generate_text, requests))
        together["engine"].append(concurrent(lambda r: generate_on_engine(r, engine), requests))
    return samples, together


def concurrent(generate: Callable[[Any], Any], requests: list[Any]) -> dict[str, float]:
    """All `requests` at once, one thread each: wall seconds and completion tokens in all."""
    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(requests)) as pool:
        results = list(pool.map(generate, requests))
    return {"wall": time.perf_counter() - t0, "tokens": sum(r.completion_tokens for r in results)}


def summary(calls: list[dict[str, float]]) -> dict[str, float]:
    return {
        "tokens_per_second": statistics.median(c["tokens"] / c["wall"] for c in calls),
        "ttft_ms": statistics.median(c["ttft"] for c in calls) * 1000,
        "ttft_min_ms": min(c["ttft"] for c in calls) * 1000,
        "wall_ms": statistics.median(c["wall"] for c in calls) * 1000,
        "tokens": statistics.median(c["tokens"] for c in calls),
        "calls": len(calls),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads, here and in the engine")
    parser.add_argument("--continuous-batching", action="store_true", help="start the engine with it")
    parser.add_argument("--url", default=None, help="an engine already running (default: start one)")
    parser.add_argument("--model", default=str(HOUSE_GPT2), help="the engine's model name")
    parser.add_argument("--flavor", default="transformers", choices=["openai", "vllm", "transformers"])
    parser.add_argument("--json", type=Path, default=HERE / "results" / "engine.json")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)  # the engine gets the same count (OMP_NUM_THREADS)
    proc, startup = None, None
    url = args.url
    if url is None:
        proc, url, startup = start_engine(args.threads, args.continuous_batching)
    try:
        samples, together = measure(args, url, args.model)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
    rows = {name: summary(calls) for name, calls in samples.items()}
    pairs = list(zip(samples["engine"], samples["in-process"], strict=True))
    ratios = {
        "tokens_per_second_engine_vs_in_process": statistics.median(
            (e["tokens"] / e["wall"]) / (i["tokens"] / i["wall"]) for e, i in pairs
        ),
        "ttft_engine_vs_in_process": statistics.median(e["ttft"] / i["ttft"] for e, i in pairs),
    }
    at_once = {
        name: statistics.median(r["tokens"] / r["wall"] for r in rounds) for name, rounds in together.items()
    }
    ratios["concurrent_tokens_per_second_engine_vs_in_process"] = at_once["engine"] / at_once["in-process"]
    result = {
        "engine": "transformers serve" if args.url is None else args.url,
        "continuous_batching": args.continuous_batching,
        "engine_startup_seconds": startup,
        "model": args.model if args.url else "house/gpt2-pydocs",
        "new_tokens": args.tokens,
        "prompts": PROMPTS,
        "torch_threads": args.threads,
        "rounds": args.runs,
        "rows": rows,
        "concurrent_tokens_per_second": at_once,
        "ratios": ratios,
    }
    print(
        f"house GPT-2 on cpu ({args.threads} torch threads), greedy, up to {args.tokens} new tokens, "
        f"{len(PROMPTS)} prompts x {args.runs} interleaved rounds; greedy texts equal on both paths"
    )
    if startup is not None:
        print(
            f"engine: transformers serve{' --continuous-batching' if args.continuous_batching else ''}, "
            f"/health after {startup:.1f} s\n"
        )
    print(f"{'path':12} {'tokens/s':>10} {'TTFT ms':>10} {'TTFT min':>10} {'wall ms':>10} {'tokens':>7}")
    for name, r in rows.items():
        print(
            f"{name:12} {r['tokens_per_second']:10.1f} {r['ttft_ms']:10.1f} {r['ttft_min_ms']:10.1f} "
            f"{r['wall_ms']:10.1f} {r['tokens']:7.0f}"
        )
    print()
    for name, value in at_once.items():
        print(f"{len(PROMPTS)} calls at once, {name:12} {value:8.1f} tokens/s in all")
    print()
    for name, value in ratios.items():
        print(f"{name:40} {value:6.2f}x")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
