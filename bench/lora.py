"""LoRA vs full fine-tuning on the house models: steps per second, peak memory, what is saved.

    python bench/lora.py [--steps 60] [--text-batch 8] [--image-batch 32] [--threads 1]
                         [--json bench/results/lora.json]

Four configurations, each in a fresh Python process so its peak memory is its own: {causal-lm on
house/gpt2-pydocs, image-classification on house/vit-digits} x {LoRA, full fine-tuning}. Both ways
of a task train on the same data with the same batch size and number of steps, through the tool's
own code: prepare() (dataset, tokenisation / preprocessing, peft wrapping) and train() (evaluate,
train, evaluate, save). For "full", the peft-wrapped copy is swapped for a plain copy of the base
model with every parameter trainable (learning rate 1e-3: LoRA's rates make full fine-tuning
diverge), so train() saves the whole model instead of an adapter.

Data: 48 passages of generated sentences ("the zebra number 17 sings in the library.") for
causal-lm; 500 colour-inverted training digits for image classification (the tests' data).

Reported per configuration: trainable parameters, steps/s over steps 2..N (the first pays for lazy
initialisation), peak memory of training = ru_maxrss at the end minus the RSS just before train()
(model, data and imports already there), that RSS, bytes saved on disk, and the held-out metric
before and after (perplexity, lower is better; accuracy).
"""

from __future__ import annotations

import argparse
import base64
import copy
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CONFIGS = [
    ("causal-lm", "lora"),
    ("causal-lm", "full"),
    ("image-classification", "lora"),
    ("image-classification", "full"),
]
FULL_LR = 1e-3


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux: write 5 to /proc/self/clear_refs), so the peak read
    later is training's own and not that of loading or decoding the data; False where refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def zoo_texts(n: int = 48) -> list[str]:
    rng = random.Random(0)
    animals = ["zebra", "giraffe", "penguin", "walrus", "otter", "llama"]
    verbs = ["sings", "dances", "whispers", "juggles", "naps", "paints"]
    places = ["library", "garden", "lighthouse", "bakery", "harbour", "meadow"]

    def sentence() -> str:
        return f"the {rng.choice(animals)} number {rng.randint(1, 99)} {rng.choice(verbs)} in the {rng.choice(places)}."

    return [" ".join(sentence() for _ in range(3)) for _ in range(n)]


def inverted_digits(n: int = 500) -> list[Any]:
    from PIL import ImageOps

    from genai_mcp.tools.house.digits import digit_images
    from genai_mcp.tools.lora.schemas import LabelledImage

    images, labels = digit_images("train")
    items = []
    for image, label in zip(images[:n], labels[:n], strict=True):
        buf = io.BytesIO()
        ImageOps.invert(image).save(buf, format="PNG")
        uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
        items.append(LabelledImage(image=uri, label=str(label)))
    return items


def child(task: str, mode: str, args: argparse.Namespace) -> dict[str, Any]:
    """One configuration, in this (fresh) process."""
    import torch

    from genai_mcp.tools.images import ImagePolicy
    from genai_mcp.tools.lora.data import LoraLimits
    from genai_mcp.tools.lora.schemas import LoraRequest
    from genai_mcp.tools.lora.store import AdapterStore
    from genai_mcp.tools.lora.train import prepare, train
    from genai_mcp.tools.models import load_model

    torch.set_num_threads(args.threads)
    text = task == "causal-lm"
    request = LoraRequest(
        task=task,  # type: ignore[arg-type]
        dataset=zoo_texts() if text else inverted_digits(),
        name="bench",
        max_steps=args.steps,
        batch_size=args.text_batch if text else args.image_batch,
    )
    store = AdapterStore(Path(tempfile.mkdtemp(prefix="bench-lora-")), uri_prefix="adapters://")
    prepared = prepare(request, limits=LoraLimits(), policy=ImagePolicy(), store=store)
    trainable = prepared.plan.trainable_params
    learning_rate = None
    if mode == "full":
        base = load_model("text-generation" if text else "image-classification").model
        prepared.model = copy.deepcopy(base)
        prepared.model.requires_grad_(True)
        trainable = sum(p.numel() for p in prepared.model.parameters())
        learning_rate = FULL_LR
    peak_reset = reset_peak()
    rss_before = rss_mb()
    stamps: list[float] = []
    # Steps only: on_loss runs once per optimizer step, not for the held-out evaluation's heartbeats.
    result = train(prepared, store=store, on_loss=lambda step, loss: stamps.append(time.perf_counter()))
    peak = peak_mb()
    saved = sum(f.stat().st_size for f in store.path("bench").rglob("*") if f.is_file())
    return {
        "task": task,
        "mode": mode,
        "model": result.plan.base_model,
        "trainable_params": trainable,
        "total_params": sum(
            p.numel()
            for p in load_model("text-generation" if text else "image-classification").model.parameters()
        ),
        "steps": len(stamps),
        "batch_size": request.batch_size,
        "learning_rate": learning_rate or result.plan.learning_rate,
        "steps_per_s": (len(stamps) - 1) / (stamps[-1] - stamps[0]),
        "rss_before_train_mb": rss_before,
        "peak_train_extra_mb": max(0.0, peak - rss_before),
        "peak_rss_mb": peak,
        "peak_reset": peak_reset,
        "saved_bytes": saved,
        "eval_metric": result.eval_metric,
        "metric_before": result.metric_before,
        "metric_after": result.metric_after,
        "train_seconds": result.seconds,
        "estimated_seconds": result.plan.estimated_seconds,
    }


def run_child(task: str, mode: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        task,
        mode,
        "--steps",
        str(args.steps),
        "--threads",
        str(args.threads),
    ]
    cmd += ["--text-batch", str(args.text_batch), "--image-batch", str(args.image_batch)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(args.threads)}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{task} {mode} failed:\n{done.stderr[-3000:]}")
    row: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=60, help="optimizer steps per configuration")
    parser.add_argument("--text-batch", type=int, default=8, help="blocks of 128 tokens per step (causal-lm)")
    parser.add_argument("--image-batch", type=int, default=32, help="images per step")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads in each child")
    parser.add_argument("--json", "--out", dest="json", type=Path, default=HERE / "results" / "lora.json")
    parser.add_argument("--child", nargs=2, metavar=("TASK", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args)))
        return

    import torch

    started = time.perf_counter()
    rows = [run_child(task, mode, args) for task, mode in CONFIGS]
    report = {
        "device": "cpu" if not torch.cuda.is_available() else torch.cuda.get_device_name(0),
        "torch_threads": args.threads,
        "load_average": os.getloadavg(),
        "seconds": time.perf_counter() - started,
        "configs": rows,
    }
    print(f"device {report['device']}, torch threads {args.threads}, load {report['load_average']}")
    head = (
        f"{'task':21} {'mode':5} {'trainable':>10} {'share':>7} {'steps/s':>8} {'peak MB':>8} "
        f"{'RSS MB':>7} {'saved KB':>9} {'metric before -> after':>24}"
    )
    print(head)
    for r in rows:
        fmt = "{:.3g}" if r["eval_metric"] == "perplexity" else "{:.1%}"
        change = f"{fmt.format(r['metric_before'])} -> {fmt.format(r['metric_after'])}"
        print(
            f"{r['task']:21} {r['mode']:5} {r['trainable_params']:>10,} "
            f"{r['trainable_params'] / r['total_params']:>7.1%} {r['steps_per_s']:>8.1f} "
            f"{r['peak_train_extra_mb']:>8.1f} {r['rss_before_train_mb']:>7.0f} {r['saved_bytes'] / 1024:>9.0f} "
            f"{r['eval_metric'][:4] + ' ' + change:>24}"
        )
    print(f"{args.steps} steps each; peak MB = training's peak RSS above the RSS just before train()")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.json} ({report['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
