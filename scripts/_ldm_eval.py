"""The figures of the house latent-diffusion model (house/ldm-digits), measured one way for the card and its test.

scripts/train_ldm.py computes them on the full protocol and writes them to metrics.json (so does

    python scripts/_ldm_eval.py tools/house_models/ldm-digits   # re-measure a folder, rewrite its card

without retraining); tests/tools/test_house_ldm.py recomputes a subset (the first seeds, the first pairs) from the shipped
weights with these same functions, so the card cannot drift from the weights.

Two judges say which digit an image shows: the house ViT (tools/house_models/vit-digits) and a pixel
3-nearest-neighbour classifier on the training digits (`train_ddpm._judges`, the DDPM card's second
judge). They share no weights with the generator, and the 3-NN is the stricter of the two.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import _house_common as common
import _ldm_card
import train_ddpm

VIT_DIR = common.HOUSE_MODELS_DIR / "vit-digits"
# Not a training caption: the templates are the house CLIP's TRAIN_TEMPLATES, and their filler words
# exclude every template word, so "a handwritten {name}" never becomes this.
UNSEEN_PROMPT = "a handwritten digit {name}"
EVAL_STEPS = 25  # DDIM steps for every figure
DEFAULT_GUIDANCE = 7.5  # StableDiffusionPipeline's own default: what a caller who sets none gets
GUIDANCES = (1.0, 3.0, DEFAULT_GUIDANCE)
DEFAULT_STRENGTH = 0.6  # edit_image's default
STRENGTHS = (DEFAULT_STRENGTH, 0.8)  # 0.8: StableDiffusionImg2ImgPipeline's own default
FULL_SAMPLE = (10, 90, None)  # (seeds per digit, image-to-image pairs, VAE digits; None: all 360)
# The subset that tests/tools/test_house_ldm.py recomputes from the shipped weights in seconds.
CHECK_SAMPLE = (2, 10, 32)


def prompt(label: int, template: str = UNSEEN_PROMPT) -> str:
    from genai_mcp.tools.house.digits import DIGIT_NAMES

    return template.format(name=DIGIT_NAMES[label], digit=str(label))


def judge(images: list[Any], targets: list[int], vit_dir: Path = VIT_DIR) -> dict[str, Any]:
    """Shares of `images` that the ViT, the pixel 3-NN, and both at once label as `targets`."""
    import numpy as np
    import torch

    processor, vit, knn = train_ddpm._judges(vit_dir)
    with torch.no_grad():
        vit_labels = vit(**processor(images=images, return_tensors="pt")).logits.argmax(-1).numpy()
    knn_labels = knn.predict(train_ddpm._pixels(images))
    want = np.asarray(targets)
    return {
        "vit": round(float((vit_labels == want).mean()), 4),
        "knn": round(float((knn_labels == want).mean()), 4),
        "both": round(float(((vit_labels == want) & (knn_labels == want)).mean()), 4),
        "n": len(targets),
    }


def load_pipelines(folder: Path) -> tuple[Any, Any]:
    """(text-to-image, image-to-image) pipelines from `folder` through diffusers' Auto classes."""
    import torch
    from diffusers import AutoPipelineForImage2Image, AutoPipelineForText2Image

    text_cls: Any = AutoPipelineForText2Image  # diffusers is untyped
    image_cls: Any = AutoPipelineForImage2Image
    t2i = text_cls.from_pretrained(folder, dtype=torch.float32)
    i2i = image_cls.from_pipe(t2i)
    for pipe in (t2i, i2i):
        pipe.set_progress_bar_config(disable=True)
    return t2i, i2i


def text_to_image(t2i: Any, seeds: int, guidance: float) -> tuple[list[Any], list[int]]:
    """Digits 0-9 x seeds 0..seeds-1 (seed s for every digit), prompted with UNSEEN_PROMPT."""
    import torch

    targets = [d for _ in range(seeds) for d in range(10)]
    generators = [torch.Generator().manual_seed(s) for s in range(seeds) for _ in range(10)]
    with torch.no_grad():
        images = t2i(
            [prompt(d) for d in targets],
            num_inference_steps=EVAL_STEPS,
            guidance_scale=guidance,
            generator=generators,
        ).images
    return list(images), targets


def image_pairs(count: int) -> tuple[list[Any], list[int], list[int]]:
    """The first `count` of the 90 (source, target) pairs: the first held-out image of each source
    digit, to each other digit, in order (0->1, 0->2, ..., 9->8)."""
    from genai_mcp.tools.house.digits import digit_images

    images, labels = digit_images("test")
    first = {d: images[labels.index(d)] for d in range(10)}
    pairs = [(s, t) for s in range(10) for t in range(10) if s != t][:count]
    return [first[s] for s, _ in pairs], [s for s, _ in pairs], [t for _, t in pairs]


def image_to_image(i2i: Any, count: int, strength: float) -> tuple[list[Any], list[int]]:
    """Held-out digits redrawn as other digits (image_pairs) at `strength` and the default guidance."""
    import torch

    sources, _, targets = image_pairs(count)
    with torch.no_grad():
        images = i2i(
            [prompt(t) for t in targets],
            image=sources,
            strength=strength,
            num_inference_steps=EVAL_STEPS,
            guidance_scale=DEFAULT_GUIDANCE,
            generator=[torch.Generator().manual_seed(i) for i in range(len(targets))],
        ).images
    return list(images), targets


def vae_figures(vae: Any, count: int | None = None, vit_dir: Path = VIT_DIR) -> dict[str, Any]:
    """Reconstruction MSE (on [-1, 1], posterior mean decoded) of the first `count` held-out digits
    (all 360 if None), and the ViT's accuracy on the reconstructions and on the real digits."""
    import numpy as np
    import torch
    from PIL import Image

    from genai_mcp.tools.house.digits import digit_images

    images, labels = digit_images("test")
    images, labels = images[:count], labels[:count]
    x = torch.from_numpy(np.stack([np.asarray(im, dtype=np.float32) for im in images]) / 127.5 - 1.0)
    x = x.permute(0, 3, 1, 2)
    with torch.no_grad():
        rec = vae.decode(vae.encode(x).latent_dist.mean).sample.clamp(-1, 1)
    arrays = ((rec + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    rebuilt = [Image.fromarray(a) for a in arrays]
    return {
        "mse": round(float(torch.nn.functional.mse_loss(rec, x)), 5),
        "vit_accuracy_reconstructed": judge(rebuilt, labels, vit_dir)["vit"],
        "vit_accuracy_real": judge(images, labels, vit_dir)["vit"],
        "n": len(labels),
    }


def figures(pipes: tuple[Any, Any], seeds: int, pairs: int, vae_count: int | None) -> dict[str, Any]:
    """Every figure of the card from (text-to-image, image-to-image) pipelines, on `seeds` seeds per
    digit, the first `pairs` image pairs and the first `vae_count` held-out digits."""
    t2i, i2i = pipes
    by_guidance = {str(g): judge(*text_to_image(t2i, seeds, g)) for g in GUIDANCES}
    return {
        "text_to_image": by_guidance,
        "image_to_image": {str(s): judge(*image_to_image(i2i, pairs, s)) for s in STRENGTHS},
        "vae": vae_figures(t2i.vae, vae_count),
    }


def measure(folder: Path, quick: bool) -> dict[str, Any]:
    """The metrics.json entries of every figure (the full protocol, and the check subset the test
    recomputes; --quick runs measure only the subset), and the samples grid, samples.png."""
    sample = CHECK_SAMPLE if quick else FULL_SAMPLE
    pipes = load_pipelines(folder)
    with common.stopwatch() as took:
        full = figures(pipes, *sample)
    check = full if quick else figures(pipes, *CHECK_SAMPLE)
    _ldm_card.save_samples(text_to_image(pipes[0], sample[0], DEFAULT_GUIDANCE)[0], folder / "samples.png")
    return {
        "figures": full,
        "check_sample": check,
        "check_sample_sizes": dict(zip(("seeds", "pairs", "vae_digits"), CHECK_SAMPLE, strict=True)),
        "eval_seeds_per_digit": sample[0],
        "eval_pairs": sample[1],
        "eval_steps": EVAL_STEPS,
        "eval_seconds": round(took["seconds"], 1),
        "unseen_prompt": UNSEEN_PROMPT,
        "default_guidance": DEFAULT_GUIDANCE,
        "default_strength": DEFAULT_STRENGTH,
    }


def main() -> None:
    import json
    import sys

    folder = Path(sys.argv[1]).resolve()
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    metrics.update(measure(folder, metrics["quick"]))
    metrics["measure_command"] = common.command_line()
    common.write_metrics(folder, metrics)
    _ldm_card.write_card(folder, metrics)
    print(f"re-measured {folder}: {json.dumps(metrics['figures'])}", flush=True)


if __name__ == "__main__":
    main()
