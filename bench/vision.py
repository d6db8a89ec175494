"""Vision tools: warm classify_image through MCP vs a direct forward of the same model, and batch throughput.

    python bench/vision.py [--calls 30] [--batch 32] [--threads 1] [--big] [--no-stdio]
                           [--json bench/results/vision.json]

"direct" is what a Python user writes in-process: processor(images=<decoded PIL images>) + model(...) +
softmax + top-k, on the very ModelBundle the server uses. "MCP" sends the same image as PNG base64 to
classify_image and waits for the structured result: in memory (protocol, JSON, base64 + PNG decode,
worker thread) and, unless --no-stdio, over a real stdio server process. Calls alternate between the
ways being compared, so that drift in the machine's load hits each alike. Target (issue 4): warm
single-image classify through MCP in memory <= 1.2x direct.

Batch throughput: images/s for one call with --batch images (one forward pass) vs --batch single calls.

Models: house/vit-digits (16x16 input, 139k parameters: the forward pass is ~1 ms, so fixed costs
dominate), and with --big a ViT-B/16-sized classifier (224x224, 86M parameters, random weights, built
in a temporary folder) where the forward pass dominates.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

HERE = Path(__file__).resolve().parent
TARGET_RATIO = 1.2


def stats(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {"median_ms": statistics.median(ms), "p90_ms": ms[int(0.9 * (len(ms) - 1))], "n": len(ms)}


def png_b64(image: Any) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def build_big_model(folder: Path) -> str:
    """A ViT-B/16-sized image classifier with random weights, saved as a local checkpoint directory."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessorPil

    torch.manual_seed(0)
    labels = {i: str(i) for i in range(10)}
    shape: dict[str, Any] = {"image_size": 224, "patch_size": 16, "num_labels": 10}  # ViT-B/16 otherwise
    config = ViTConfig(**shape, id2label=labels, label2id={v: k for k, v in labels.items()})
    ViTForImageClassification(config).save_pretrained(folder)
    ViTImageProcessorPil(size={"height": 224, "width": 224}).save_pretrained(folder)
    return str(folder)


def direct_classify(bundle: Any, images: list[Any], top_k: int = 5) -> Any:
    import torch

    with torch.inference_mode():
        pixels = bundle.processor(images=images, return_tensors="pt")["pixel_values"].to(bundle.device)
        probs = bundle.model(pixel_values=pixels).logits.float().softmax(-1)
        return probs.topk(top_k, dim=-1)


async def mcp_classify(client: Client, model: str, image: str | list[str]) -> dict[str, Any]:
    result = await client.call_tool("classify_image", {"image": image, "model": model, "top_k": 5})
    assert not result.is_error and result.structured_content is not None, result.content
    content: dict[str, Any] = result.structured_content
    return content


async def timed(fn: Any, *args: Any) -> float:
    t0 = time.perf_counter()
    out = fn(*args)
    if hasattr(out, "__await__"):
        await out
    return time.perf_counter() - t0


async def bench_model(
    model: str, image: Any, clients: dict[str, Client], calls: int, batch: int, args: argparse.Namespace
) -> dict[str, Any]:
    from genai_mcp.tools.models import load_model

    bundle = load_model("image-classification", model)
    spec = png_b64(image)
    single: dict[str, list[float]] = {"direct": [], **{name: [] for name in clients}}
    server_timing: list[dict[str, float]] = []
    for _ in range(2):  # warm: first calls pay for lazy imports, thread pools and allocator growth
        direct_classify(bundle, [image])
        for client in clients.values():
            await mcp_classify(client, model, spec)
    for _ in range(calls):
        single["direct"].append(await timed(direct_classify, bundle, [image]))
        for name, client in clients.items():
            t0 = time.perf_counter()
            content = await mcp_classify(client, model, spec)
            single[name].append(time.perf_counter() - t0)
            if name == "mcp in-memory":
                server_timing.append(content["timing"])
    rows = {name: stats(samples) for name, samples in single.items()}
    breakdown = {
        key: statistics.median(t[key] for t in server_timing)
        for key in ("decode_ms", "preprocess_ms", "forward_ms", "total_ms")
    }

    batch_images, batch_specs = [image] * batch, [spec] * batch
    memory = clients["mcp in-memory"]
    throughput: dict[str, list[float]] = {"direct batch": [], "mcp batch call": [], "mcp single calls": []}
    for _ in range(args.batch_repeats):
        throughput["direct batch"].append(await timed(direct_classify, bundle, batch_images))
        throughput["mcp batch call"].append(await timed(mcp_classify, memory, model, batch_specs))
        t0 = time.perf_counter()
        for one in batch_specs:
            await mcp_classify(memory, model, one)
        throughput["mcp single calls"].append(time.perf_counter() - t0)
    images_per_s = {name: batch / statistics.median(s) for name, s in throughput.items()}
    ratio = rows["mcp in-memory"]["median_ms"] / rows["direct"]["median_ms"]
    return {
        "model": model,
        "parameters": sum(p.numel() for p in bundle.model.parameters()),
        "single": rows,
        "server_timing_median_ms": breakdown,
        "ratio_mcp_in_memory_vs_direct": ratio,
        "ratios_vs_direct": {name: r["median_ms"] / rows["direct"]["median_ms"] for name, r in rows.items()},
        "overhead_ms_vs_direct": {
            name: r["median_ms"] - rows["direct"]["median_ms"] for name, r in rows.items()
        },
        "calls": calls,
        "batch": {"size": batch, "images_per_s": images_per_s},
        "target": {"ratio": TARGET_RATIO, "ok": ratio <= TARGET_RATIO},
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from genai_mcp.server.app import create_server
    from genai_mcp.server.settings import ServerSettings
    from genai_mcp.tools.house.digits import digit_images

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="bench-vision-"))
    digit = digit_images("test")[0][0]
    cases: list[tuple[str, Any, int, int]] = [("house/vit-digits", digit, args.calls, args.batch)]
    if args.big:
        from PIL import Image

        big = digit.resize((224, 224), Image.Resampling.BILINEAR)
        cases.append((build_big_model(work / "vit-base-random"), big, args.big_calls, args.big_batch))
    settings = ServerSettings(
        data_dir=work / "data", log_level="WARNING", max_batch=max(64, args.batch, args.big_batch)
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(work)),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": str(args.threads),
        "GENAI_MCP_DATA_DIR": str(work / "stdio-data"),
        "GENAI_MCP_MAX_BATCH": str(max(64, args.batch, args.big_batch)),
    }
    stdio = StdioServerParameters(
        command=sys.executable,
        args=["-m", "genai_mcp.server.cli", "serve", "--log-level", "WARNING"],
        env=env,
    )
    results = []
    async with Client(create_server(settings)) as memory:
        if args.no_stdio:
            for model, image, calls, batch in cases:
                results.append(await bench_model(model, image, {"mcp in-memory": memory}, calls, batch, args))
        else:
            async with Client(stdio) as child:
                for model, image, calls, batch in cases:
                    clients = {"mcp in-memory": memory, "mcp stdio": child}
                    results.append(await bench_model(model, image, clients, calls, batch, args))
    return {
        "device": "cpu" if not torch.cuda.is_available() else torch.cuda.get_device_name(0),
        "torch_threads": args.threads,
        "load_average": os.getloadavg(),
        "models": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=30, help="timed single-image calls per way")
    parser.add_argument("--batch", type=int, default=32, help="images in the batch-throughput case")
    parser.add_argument("--batch-repeats", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch intra-op threads (here and in the child)"
    )
    parser.add_argument("--big", action="store_true", help="also a ViT-B/16-sized model (random weights)")
    parser.add_argument("--big-calls", type=int, default=10, help="timed single-image calls, big model")
    parser.add_argument("--big-batch", type=int, default=8, help="batch size, big model")
    parser.add_argument("--no-stdio", action="store_true", help="skip the stdio server process")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "vision.json")
    args = parser.parse_args()
    report = anyio.run(run, args)

    print(
        f"device {report['device']}, torch threads {report['torch_threads']}, load {report['load_average']}"
    )
    for m in report["models"]:
        print(f"\n{m['model']} ({m['parameters']:,} parameters), single image, {m['calls']} calls")
        print(f"  {'way':16} {'median ms':>10} {'p90 ms':>10} {'x direct':>9}")
        for name, r in m["single"].items():
            print(
                f"  {name:16} {r['median_ms']:10.2f} {r['p90_ms']:10.2f} {m['ratios_vs_direct'][name]:9.2f}"
            )
        b = m["server_timing_median_ms"]
        print(
            f"  inside the tool: decode {b['decode_ms']:.2f}, preprocess {b['preprocess_ms']:.2f}, "
            f"forward {b['forward_ms']:.2f}, total {b['total_ms']:.2f} ms"
        )
        print(
            f"  batch of {m['batch']['size']}: images/s "
            + ", ".join(f"{k} {v:.1f}" for k, v in m["batch"]["images_per_s"].items())
        )
        verdict = "OK" if m["target"]["ok"] else "MISSED"
        print(
            f"  MCP in-memory / direct = {m['ratio_mcp_in_memory_vs_direct']:.2f}  target <= {TARGET_RATIO}  {verdict}"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
