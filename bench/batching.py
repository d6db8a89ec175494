"""Micro-batching of concurrent single-image classify_image calls, through MCP in memory.

    python bench/batching.py [--callers 16] [--rounds 8] [--window-ms 2] [--threads 1] [--big]
                             [--json bench/results/batching.json]

Two servers in this process on the same model: one batching (GENAI_MCP_BATCH_WINDOW_MS = --window-ms)
and one with batching off (window 0), the same-run baseline. Ways compared, each moving
callers x rounds single images (rounds alternate between the ways so drift in load hits each alike):

    sequential        one call after another, batching off (today's single caller)
    concurrent, off   --callers callers at once, batching off
    concurrent, on    --callers callers at once, batching on
    one batch call    one call with --callers images (one forward pass), batching off

Reported: images/s of each, images per forward pass (the batching server's own counters), and p50
latency of a lone call on each server. Targets (issue 15): >= 4 images per forward pass, concurrent
batched >= 1.3x sequential images/s on the house ViT, lone-call p50 no more than the window above
batching off. --big adds a ViT-B/16-sized classifier (random weights) where the forward dominates.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from vision import build_big_model, png_b64  # noqa: E402

TARGET_PER_FORWARD = 4.0
TARGET_SPEEDUP = 1.3


async def call(client: Client, model: str, image: str | list[str]) -> None:
    result = await client.call_tool("classify_image", {"image": image, "model": model, "top_k": 3})
    assert not result.is_error, result.content


async def concurrent(client: Client, model: str, specs: list[str]) -> float:
    t0 = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for spec in specs:
            tg.start_soon(call, client, model, spec)
    return time.perf_counter() - t0


async def sequential(client: Client, model: str, specs: list[str]) -> float:
    t0 = time.perf_counter()
    for spec in specs:
        await call(client, model, spec)
    return time.perf_counter() - t0


async def bench_model(
    model: str, on: Client, off: Client, batcher: Any, args: argparse.Namespace
) -> dict[str, Any]:
    from genai_mcp.tools.house.digits import digit_images

    images, _ = digit_images("test")
    specs = [png_b64(im) for im in images[: args.callers]]
    for client in (on, off):  # warm: lazy imports, the model load, thread pools
        await concurrent(client, model, specs)
        await sequential(client, model, specs[:4])
    seconds: dict[str, list[float]] = {
        k: [] for k in ("sequential", "concurrent, off", "concurrent, on", "one batch call")
    }
    before = batcher.stats()
    for _ in range(args.rounds):
        seconds["sequential"].append(await sequential(off, model, specs))
        seconds["concurrent, off"].append(await concurrent(off, model, specs))
        seconds["concurrent, on"].append(await concurrent(on, model, specs))
        t0 = time.perf_counter()
        await call(off, model, specs)
        seconds["one batch call"].append(time.perf_counter() - t0)
    after = batcher.stats()
    per_forward = (after.rows - before.rows) / max(1, after.forwards - before.forwards)
    images_per_s = {k: args.callers / statistics.median(v) for k, v in seconds.items()}
    lone: dict[str, list[float]] = {"batching on": [], "batching off": []}
    for _ in range(args.lone_calls):
        for name, client in (("batching on", on), ("batching off", off)):
            t0 = time.perf_counter()
            await call(client, model, specs[0])
            lone[name].append(time.perf_counter() - t0)
    lone_p50 = {k: statistics.median(v) * 1000 for k, v in lone.items()}
    speedup = images_per_s["concurrent, on"] / images_per_s["sequential"]
    extra_ms = lone_p50["batching on"] - lone_p50["batching off"]
    return {
        "model": model,
        "callers": args.callers,
        "rounds": args.rounds,
        "images_per_s": images_per_s,
        "images_per_forward": per_forward,
        "speedup_concurrent_on_vs_sequential": speedup,
        "ratio_concurrent_on_vs_off": images_per_s["concurrent, on"] / images_per_s["concurrent, off"],
        "ratio_concurrent_on_vs_one_batch_call": images_per_s["concurrent, on"]
        / images_per_s["one batch call"],
        "lone_call_p50_ms": lone_p50,
        "lone_extra_ms": extra_ms,
        "targets": {
            "images_per_forward": {"target": TARGET_PER_FORWARD, "ok": per_forward >= TARGET_PER_FORWARD},
            "speedup": {"target": TARGET_SPEEDUP, "ok": speedup >= TARGET_SPEEDUP},
            "lone_extra_ms": {"target": args.window_ms, "ok": extra_ms <= args.window_ms},
        },
    }


BATCHERS: list[Any] = []  # the batchers the servers build, to read their counters


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from genai_mcp.server import state as server_state
    from genai_mcp.server.app import create_server
    from genai_mcp.server.settings import ServerSettings
    from genai_mcp.tools.models.batching import ForwardBatcher

    class RecordedBatcher(ForwardBatcher):
        def __init__(self, window_s: float, max_batch: int) -> None:
            super().__init__(window_s, max_batch)
            BATCHERS.append(self)

    setattr(server_state, "ForwardBatcher", RecordedBatcher)  # noqa: B010 - this process's servers only
    data = Path(tempfile.mkdtemp(prefix="bench-batching-"))
    base = {"log_level": "WARNING", "batch_max": args.max_batch}
    on = create_server(ServerSettings(data_dir=data / "on", batch_window_ms=args.window_ms, **base))
    batcher = BATCHERS[-1]
    off = create_server(ServerSettings(data_dir=data / "off", batch_window_ms=0, **base))
    models = ["house/vit-digits"]
    if args.big:
        models.append(build_big_model(data / "vit-b16"))
    report: dict[str, Any] = {
        "torch_threads": args.threads,
        "window_ms": args.window_ms,
        "max_batch": args.max_batch,
        "load_average": os.getloadavg(),
        "models": [],
    }
    async with Client(on) as con, Client(off) as coff:
        for model in models:
            report["models"].append(await bench_model(model, con, coff, batcher, args))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--callers", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=8, help="rounds of callers images per way")
    parser.add_argument("--lone-calls", type=int, default=40, help="lone calls per server for the p50")
    parser.add_argument("--window-ms", type=float, default=2.0)
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--big", action="store_true", help="also a ViT-B/16-sized model (random weights)")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "batching.json")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    report = anyio.run(run, args)
    print(
        f"window {report['window_ms']} ms, torch threads {report['torch_threads']}, load {report['load_average']}"
    )
    for m in report["models"]:
        print(f"\n{m['model']}: {m['callers']} callers x {m['rounds']} rounds, single-image classify_image")
        print(f"  {'way':18} {'images/s':>9} {'x sequential':>13}")
        for name, v in m["images_per_s"].items():
            print(f"  {name:18} {v:9.1f} {v / m['images_per_s']['sequential']:13.2f}")
        t = m["targets"]
        ok = {k: "OK" if t[k]["ok"] else "MISSED" for k in t}
        print(
            f"  images per forward pass {m['images_per_forward']:.1f}  target >= {TARGET_PER_FORWARD}  {ok['images_per_forward']}"
        )
        print(
            f"  concurrent batched / sequential {m['speedup_concurrent_on_vs_sequential']:.2f}x  "
            f"target >= {TARGET_SPEEDUP}  {ok['speedup']}; vs concurrent unbatched "
            f"{m['ratio_concurrent_on_vs_off']:.2f}x, vs one {m['callers']}-image call "
            f"{m['ratio_concurrent_on_vs_one_batch_call']:.2f}x"
        )
        lone = m["lone_call_p50_ms"]
        print(
            f"  lone call p50: on {lone['batching on']:.2f} ms, off {lone['batching off']:.2f} ms "
            f"(+{m['lone_extra_ms']:.2f} ms, target <= +{report['window_ms']} ms)  {ok['lone_extra_ms']}"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
