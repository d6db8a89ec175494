"""The Stable Diffusion folder layout of house/ldm-digits: its components, built and saved.

scripts/train_ldm.py builds them from its settings, trains the VAE and the UNet, and saves the
pipeline here; the text tower and tokenizer come from the house CLIP (tools/house_models/clip-digits)
unchanged.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import _house_common as common

CLIP_DIR = common.HOUSE_MODELS_DIR / "clip-digits"


def build_components(
    vae_settings: dict[str, Any], unet_settings: dict[str, Any]
) -> tuple[Any, Any, Any, Any, Any]:
    """(vae, text_encoder, tokenizer, unet, scheduler) from train_ldm's VAE and UNET settings; the text
    tower carries the house CLIP's weights."""
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from safetensors.torch import load_file
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    vae_cls: Any = AutoencoderKL  # diffusers is untyped
    vae = vae_cls(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=vae_settings["block_out_channels"],
        layers_per_block=vae_settings["layers_per_block"],
        latent_channels=vae_settings["latent_channels"],
        norm_num_groups=vae_settings["norm_num_groups"],
        sample_size=16,
    )
    # Built from the CLIP's text config and weights rather than from_pretrained on the CLIP folder,
    # so no load-time keys (paths, "is_local") end up in the saved config.
    clip_config = json.loads((CLIP_DIR / "config.json").read_text(encoding="utf-8"))
    text_config = {k: v for k, v in clip_config["text_config"].items() if k != "model_type"}
    text_encoder: Any = CLIPTextModel(CLIPTextConfig(**text_config))
    weights = load_file(str(CLIP_DIR / "model.safetensors"))
    prefix = "text_model."
    text_encoder.load_state_dict({k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)})
    text_encoder.eval().requires_grad_(False)
    tokenizer: Any = CLIPTokenizer.from_pretrained(CLIP_DIR)
    unet_cls: Any = UNet2DConditionModel
    unet = unet_cls(
        sample_size=unet_settings["sample_size"],
        in_channels=vae_settings["latent_channels"],
        out_channels=vae_settings["latent_channels"],
        down_block_types=unet_settings["down_block_types"],
        up_block_types=unet_settings["up_block_types"],
        mid_block_type="UNetMidBlock2DCrossAttn",
        cross_attention_dim=text_config["hidden_size"],
        attention_head_dim=unet_settings["attention_head_dim"],
        norm_num_groups=unet_settings["norm_num_groups"],
        block_out_channels=unet_settings["block_out_channels"],
        layers_per_block=unet_settings["layers_per_block"],
    )
    # steps_offset 1 and clip_sample False: the SD pipeline rewrites other values with a warning.
    scheduler_cls: Any = DDIMScheduler
    scheduler = scheduler_cls(
        num_train_timesteps=unet_settings["train_timesteps"],
        beta_schedule=unet_settings["beta_schedule"],
        prediction_type=unet_settings["prediction_type"],
        clip_sample=False,
        steps_offset=1,
        timestep_spacing="trailing",
    )
    return vae, text_encoder, tokenizer, unet, scheduler


def save(out: Path, vae: Any, text_encoder: Any, tokenizer: Any, unet: Any, scheduler: Any) -> None:
    from diffusers import StableDiffusionPipeline

    pipeline_cls: Any = StableDiffusionPipeline
    pipe = pipeline_cls(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(out)
    # The tokenizer files byte for byte as the house CLIP ships them: the same tokenizer, unchanged.
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(CLIP_DIR / name, out / "tokenizer" / name)
