"""Latent diffusion: what generate_image costs over diffusers alone, and what guidance costs.

    python bench/latent.py [--model house/ldm-digits] [--steps 25] [--repeats 5] [--threads 1]
                           [--json bench/results/latent.json]

Same run, same model, same seed and steps (DDIM), median of `repeats` after a warm-up:
- baseline: the cached pipeline called directly (`pipe(prompt, ...)`), what a diffusers user runs;
- generate_image (genai_mcp.tools.latent, the function the MCP tool runs): a per-call pipeline
  (`from_pipe`) and scheduler, the limit checks, the token count, progress per step;
- generate_image with guidance off (guidance_scale 1): one UNet pass per step instead of two.
No target: the point is that the tool's own work is small next to the denoising loop.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def median_seconds(fn: Any, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="house/ldm-digits")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=HERE / "results" / "latent.json")
    args = parser.parse_args()

    import torch
    from diffusers import AutoPipelineForText2Image, DDIMScheduler

    from genai_mcp.tools import latent
    from genai_mcp.tools.models import ModelCache

    torch.set_num_threads(args.threads)
    cache = ModelCache(device="cpu")
    prompt = "a handwritten digit seven"
    request = latent.GenerateImageRequest(
        prompt=prompt, steps=args.steps, seed=0, scheduler="ddim", model=args.model
    )
    pipe: Any = cache.get("text-to-image", args.model).model
    ddim: Any = DDIMScheduler  # untyped from_config
    direct: Any = AutoPipelineForText2Image.from_pipe(pipe, scheduler=ddim.from_config(pipe.scheduler.config))
    direct.set_progress_bar_config(disable=True)

    def baseline() -> None:
        direct(prompt, num_inference_steps=args.steps, generator=torch.Generator().manual_seed(0))

    def tool() -> None:
        latent.generate_image(request, lambda *_: None, models=cache)

    def unguided() -> None:
        latent.generate_image(request.model_copy(update={"guidance_scale": 1.0}), models=cache)

    rows = {
        "diffusers pipeline, guidance 7.5 (baseline)": median_seconds(baseline, args.repeats),
        "generate_image, guidance 7.5": median_seconds(tool, args.repeats),
        "generate_image, guidance 1 (off)": median_seconds(unguided, args.repeats),
    }
    base = rows["diffusers pipeline, guidance 7.5 (baseline)"]
    print(
        f"{args.model}, {args.steps} DDIM steps, 1 image, {args.threads} torch thread(s), median of {args.repeats}"
    )
    print(f"{'run':48} {'seconds':>8} {'vs baseline':>12}")
    for name, seconds in rows.items():
        print(f"{name:48} {seconds:8.3f} {seconds / base:11.2f}x")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    record = {"model": args.model, "steps": args.steps, "threads": args.threads, "repeats": args.repeats}
    args.json.write_text(json.dumps({**record, "seconds": rows}, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
