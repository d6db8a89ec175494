"""The shipped house latent-diffusion model (house/ldm-digits): its layout, and its card's figures.

The figures are recomputed from the shipped weights with the functions the training script measured
them with (scripts/_ldm_eval.py), on the subset the script also recorded (`check_sample`), so a card
that drifts from its weights fails here. Tolerances: one image of each sample either way (another
thread count or CPU orders float sums differently, which may flip a borderline image), and 10 % of
the VAE's reconstruction error.
"""

from __future__ import annotations

import importlib
import json
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from genai_mcp.tools.house import HOUSE_DIR
from genai_mcp.tools.models.resolve import resolve_model

REPO = Path(__file__).resolve().parents[2]
LDM = HOUSE_DIR / "ldm-digits"  # house/ldm-digits
CLIP = HOUSE_DIR / "clip-digits"


def ldm_eval() -> ModuleType:
    scripts = str(REPO / "scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)  # the scripts import their helpers by bare name
    return importlib.import_module("_ldm_eval")


def metrics() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((LDM / "metrics.json").read_text(encoding="utf-8"))
    return loaded


@cache
def pipelines() -> tuple[Any, Any]:
    result: tuple[Any, Any] = ldm_eval().load_pipelines(LDM)
    return result


def test_the_house_name_resolves_to_the_shipped_folder() -> None:
    resolved = resolve_model("text-to-image", "house/ldm-digits")
    assert (resolved.source, Path(resolved.ref)) == ("house", LDM)
    assert resolve_model("text-to-image", None).model_id == "house/ldm-digits"  # the task's default


def test_the_folder_is_a_standard_stable_diffusion_pipeline_on_the_house_clip_text_tower() -> None:
    import torch
    from diffusers import AutoPipelineForImage2Image, StableDiffusionImg2ImgPipeline, StableDiffusionPipeline
    from safetensors.torch import load_file

    t2i, i2i = pipelines()
    assert (type(t2i), type(i2i)) == (StableDiffusionPipeline, StableDiffusionImg2ImgPipeline)
    direct: Any = AutoPipelineForImage2Image.from_pretrained(LDM, dtype=torch.float32)  # not only from_pipe
    assert direct.vae.config.scaling_factor == t2i.vae.config.scaling_factor
    assert isinstance(direct, StableDiffusionImg2ImgPipeline)
    assert t2i.safety_checker is None and t2i.feature_extractor is None
    assert t2i.unet.config.sample_size * t2i.vae_scale_factor == 16  # the default size
    assert t2i.tokenizer.model_max_length == 32
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (LDM / "tokenizer" / name).read_bytes() == (CLIP / name).read_bytes()
    clip = load_file(str(CLIP / "model.safetensors"))
    tower = t2i.text_encoder.state_dict()
    assert tower and all(torch.equal(v, clip[f"text_model.{k}"]) for k, v in tower.items())
    config = (LDM / "vae" / "config.json").read_text(encoding="utf-8")
    assert "is_local" not in config and "_name_or_path" not in config


def test_the_card_is_from_a_full_run_and_meets_its_targets() -> None:
    m = metrics()
    assert m["quick"] is False, "the shipped folder is still the provisional --quick one"
    t2i = m["figures"]["text_to_image"]
    default, unguided = t2i[str(m["default_guidance"])], t2i["1.0"]
    assert default["vit"] >= 0.95 and default["knn"] >= 0.95
    assert any(default[j] > unguided[j] for j in ("vit", "knn"))  # guidance helps by one judge
    vae = m["figures"]["vae"]
    assert vae["vit_accuracy_reconstructed"] >= vae["vit_accuracy_real"] - 0.01
    card = (LDM / "README.md").read_text(encoding="utf-8")
    assert f"**{default['vit']:.0%}**" in card and str(vae["mse"]) in card
    assert "Provisional" not in card


def test_the_shipped_weights_reproduce_the_card_figures_on_a_subset() -> None:
    e, m = ldm_eval(), metrics()
    sizes = m["check_sample_sizes"]
    assert (sizes["seeds"], sizes["pairs"], sizes["vae_digits"]) == e.CHECK_SAMPLE
    recomputed = e.figures(pipelines(), *e.CHECK_SAMPLE)
    stored = m["check_sample"]
    shares = [
        (recomputed[task][key], want)
        for task in ("text_to_image", "image_to_image")
        for key, want in stored[task].items()
    ]
    for got, want in shares:
        for judge in ("vit", "knn", "both"):
            assert got[judge] == pytest.approx(want[judge], abs=1 / want["n"] + 1e-9), (got, want)
    vae_now, vae_then = recomputed["vae"], stored["vae"]
    assert vae_now["mse"] == pytest.approx(vae_then["mse"], rel=0.1)
    for key in ("vit_accuracy_reconstructed", "vit_accuracy_real"):
        assert vae_now[key] == pytest.approx(vae_then[key], abs=1 / vae_then["n"] + 1e-9)
    # The subset is a subset of the full protocol: the headline figures must not be far from it.
    full = m["figures"]["text_to_image"][str(m["default_guidance"])]
    assert recomputed["text_to_image"][str(m["default_guidance"])]["vit"] >= full["vit"] - 0.1
