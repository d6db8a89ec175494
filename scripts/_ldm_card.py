"""The model card of house/ldm-digits, written from its metrics.json.

    python scripts/_ldm_card.py tools/house_models/ldm-digits   # rewrite README.md from metrics.json

scripts/train_ldm.py calls write_card after training; running this file alone rewrites a card from
the figures already measured, without retraining.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import _house_common as common

FOLDER = "ldm-digits"


def save_samples(images: list[Any], path: Path) -> None:
    """A 10-column grid (one column per digit), 2x nearest-neighbour enlarged."""
    from PIL import Image

    size = images[0].size[0]
    rows = -(-len(images) // 10)
    grid = Image.new("L", (10 * size, rows * size))
    for i, im in enumerate(images):
        grid.paste(im.convert("L"), ((i % 10) * size, (i // 10) * size))
    grid.resize((grid.width * 2, grid.height * 2), Image.Resampling.NEAREST).save(path)


def _row(label: str, f: dict[str, Any]) -> str:
    return f"| {label} | {f['n']} | **{f['vit']:.0%}** | **{f['knn']:.0%}** | {f['both']:.0%} |"


def targets(m: dict[str, Any]) -> str:
    """Issue 16's targets for this model, each with whether these figures meet it."""
    t2i, vae = m["figures"]["text_to_image"], m["figures"]["vae"]
    default, unguided = t2i[str(m["default_guidance"])], t2i["1.0"]
    gains = {j: default[j] - unguided[j] for j in ("vit", "knn")}
    checks = [
        (
            f"at least 95 % adherence at guidance {m['default_guidance']} by both judges",
            min(default["vit"], default["knn"]) >= 0.95,
        ),
        (
            "a measurable gain of guidance over none by at least one judge "
            f"(ViT {gains['vit']:+.0%}, 3-NN {gains['knn']:+.0%})",
            max(gains.values()) > 0,
        ),
        (
            "reconstructions classified within 1 point of the real digits",
            vae["vit_accuracy_reconstructed"] >= vae["vit_accuracy_real"] - 0.01,
        ),
    ]
    return "Targets: " + "; ".join(f"{what}: {'met' if ok else '**not met**'}" for what, ok in checks) + "."


def write_card(out: Path, m: dict[str, Any]) -> None:
    f, p = m["figures"], m["parameters"]
    vae = f["vae"]
    provisional = (
        "**Provisional: these weights come from a --quick run of a few steps, only so that the "
        "folder loads; they draw noise. The full run's weights replace them.**\n\n"
        if m["quick"]
        else ""
    )
    rows = "\n".join(_row(f"text-to-image, guidance {g}", v) for g, v in f["text_to_image"].items())
    i2i_rows = "\n".join(_row(f"image-to-image, strength {s}", v) for s, v in f["image_to_image"].items())
    remeasured = (
        f" The figures were re-measured from these weights with `{m['measure_command']}`."
        if "measure_command" in m
        else ""
    )
    hp = "\n".join(
        f"- {part}.{k}: {v}"
        for part, d in m["hyperparameters"].items()
        if isinstance(d, dict)
        for k, v in d.items()
    ) + "".join(f"\n- {k}: {v}" for k, v in m["hyperparameters"].items() if not isinstance(v, dict))
    common.write_model_card(
        out,
        "house/ldm-digits: a tiny text-to-image latent diffusion model of handwritten digits",
        {
            "Model": provisional
            + (
                "A standard diffusers `StableDiffusionPipeline` folder (model_index.json, vae/, text_encoder/, "
                "tokenizer/, unet/, scheduler/; no safety checker or feature extractor). It loads with "
                "`AutoPipelineForText2Image.from_pretrained(folder)` and `AutoPipelineForImage2Image`, offline.\n\n"
                f"- vae: `AutoencoderKL` ({p['vae']:,} parameters): 16x16 RGB images in [-1, 1] (grey digits, "
                f"bright ink on dark) <-> 4x4x4 latents; scaling_factor {m['scaling_factor']} (1 / std of "
                "the training latents).\n"
                f"- text_encoder + tokenizer: the text tower ({p['text_encoder']:,} parameters) and tokenizer of "
                "house/clip-digits, unchanged and frozen: its weights copied tensor for tensor, its tokenizer "
                "files byte for byte. Prompts are read up to 32 tokens.\n"
                f"- unet: `UNet2DConditionModel` ({p['unet']:,} parameters, EMA weights), cross-attention on the "
                "(32, 64) text embeddings, 4x4 latents, so the pipeline's default size is 16x16.\n"
                "- scheduler: `DDIMScheduler` (1000 steps, squaredcos_cap_v2, v_prediction, trailing spacing); "
                "any diffusers scheduler built from its config works.\n\n"
                "Prompts it knows: the house CLIP's caption templates (`a photo of the digit {name}`, `a handwritten "
                "{digit}`, `the number {name}`, ...), with {name} zero..nine or {digit} 0..9."
            ),
            "Data": common.DIGITS_DATA_SECTION
            + " The VAE and the UNet train on the 1437 training digits only; every figure below is on "
            "held-out digits or on freshly drawn images.",
            "Training": (
                common.retraining_text(FOLDER, m["command"]) + "\n\n"
                f"Seed {m['seed']}. VAE: {m['vae_steps']} steps, {m['vae_train_seconds']} s (with encoding the "
                f"latents), final smoothed loss {m['vae_final_loss_smoothed']}. UNet: {m['unet_steps']} steps, "
                f"{m['unet_train_seconds']} s, final smoothed loss {m['unet_final_loss_smoothed']}. CPU, one torch "
                "thread, 2 cores shared with other work. Captions: each of the house CLIP's 8 training templates "
                "per digit, plus variants with filler words inserted, embedded once through the frozen text "
                "tower exactly as the pipeline's `encode_prompt` does (padded to 32 tokens, no attention mask); "
                "10 % of each batch gets the embedding of the empty prompt, for classifier-free guidance."
                f"\n\n{hp}\n\nEnvironment:\n\n" + common.environment_text(m["environment"])
            ),
            "Results": (
                f"Prompt `{m['unseen_prompt']}` ({{name}} zero..nine), which is not a training caption; "
                f"{m['eval_seeds_per_digit']} seeds per digit, {m['eval_steps']} DDIM steps. Two judges say "
                "which digit an image shows: the house ViT (vit-digits) and a 3-nearest-neighbour classifier "
                "on the raw pixels of the training digits (stricter: it wants the image to look like real "
                "digits pixel for pixel). Adherence = share labelled as the prompted digit.\n\n"
                "| task | images | ViT | pixel 3-NN | both |\n|---|---|---|---|---|\n"
                f"{rows}\n{i2i_rows}\n\n"
                f"Guidance {m['default_guidance']} is the pipeline's and generate_image's default; strength "
                f"{m['default_strength']} is edit_image's (0.8 is diffusers' own). Image-to-image: the first "
                f"held-out image of each digit redrawn as each other digit ({m['eval_pairs']} pairs), "
                f"prompted with the same unseen wording, guidance {m['default_guidance']}.\n\n"
                f"VAE, {vae['n']} held-out digits (posterior mean decoded): reconstruction MSE "
                f"**{vae['mse']}** on [-1, 1]; the house ViT classifies **{vae['vit_accuracy_reconstructed']:.2%}** "
                f"of the reconstructions correctly, **{vae['vit_accuracy_real']:.2%}** of the real digits.\n\n"
                f"Measuring took {m['eval_seconds']} s.{remeasured} Samples at guidance {m['default_guidance']} "
                "(columns: digits 0-9; rows: seeds):\n\n![samples](samples.png)\n\n"
                + targets(m)
                + "\n\ntests/tools/test_house_ldm.py recomputes these figures from the shipped weights on a "
                f"subset (`check_sample` in metrics.json: {m['check_sample_sizes']})."
            ),
            "Size": (
                f"{common.human_bytes(m['weights_bytes'])} of weights (float32 safetensors), "
                f"{common.human_bytes(m['folder_bytes'])} for the whole folder."
            ),
            "License": common.DIGITS_LICENSE_SECTION,
            "Limits": (
                "Draws only 16x16 digits like the training data; larger sizes run but draw fragments "
                "(the UNet saw only 4x4 latents). Knows only the words of the house CLIP's captions: other "
                "words are read, but as byte pieces it never learnt. Adherence means the right digit, not an "
                "image quality score (no FID)."
            ),
        },
        metadata={
            "license": "apache-2.0",
            "library_name": "diffusers",
            "pipeline_tag": "text-to-image",
            "tags": ["stable-diffusion", "latent-diffusion", "digits", "genai-mcp-house"],
        },
    )


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    write_card(folder, json.loads((folder / "metrics.json").read_text(encoding="utf-8")))
