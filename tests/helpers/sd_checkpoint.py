"""A Stable Diffusion-shaped pipeline with random weights, saved as a local folder (nothing can be
downloaded here): the real component classes and the structure of SD 1.x's configs, at reduced size.

    make_sd_checkpoint(folder) -> str      a StableDiffusionPipeline folder (model_index.json, ...)

What is kept from SD 1.x: a CLIPTextModel conditioning through cross-attention, a CLIPTokenizer with
model_max_length 77 (the house CLIP's vocabulary, so it works offline), an AutoencoderKL with four
block levels (8x downsampling, 4 latent channels, a scaling_factor), a UNet2DConditionModel with
SD-1.x blocks (CrossAttnDownBlock2D ... DownBlock2D, UpBlock2D ... CrossAttnUpBlock2D,
cross_attention_dim = the text hidden size) and a PNDM scheduler with SD's betas. What is smaller:
widths, depths and the sample size (8x8 latents, 64x64 images), so a step takes milliseconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genai_mcp.tools.house import HOUSE_MODELS

__all__ = ["SD_IMAGE_SIDE", "SD_LATENT_SIDE", "SD_MAX_TOKENS", "make_sd_checkpoint"]

SD_LATENT_SIDE = 8  # unet.config.sample_size
SD_IMAGE_SIDE = SD_LATENT_SIDE * 8  # the checkpoint's own image size (8x VAE)
SD_MAX_TOKENS = 77  # SD's text window
_TEXT_HIDDEN = 32


def make_sd_checkpoint(folder: Path) -> str:
    """Build and save the pipeline; returns the folder's path."""
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    clip = HOUSE_MODELS["house/clip-digits"].path
    tokenizer = CLIPTokenizer.from_pretrained(
        str(clip), model_max_length=SD_MAX_TOKENS, local_files_only=True
    )
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=_TEXT_HIDDEN,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=SD_MAX_TOKENS,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 16, 16, 16),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=SD_IMAGE_SIDE,
        scaling_factor=0.18215,  # SD 1.x's
    )
    unet = UNet2DConditionModel(
        sample_size=SD_LATENT_SIDE,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        block_out_channels=(16, 32, 32),
        layers_per_block=1,
        cross_attention_dim=_TEXT_HIDDEN,
        attention_head_dim=4,
        norm_num_groups=8,
    )
    scheduler = PNDMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        skip_prk_steps=True,
        steps_offset=1,
        set_alpha_to_one=False,
    )
    pipeline: Any = StableDiffusionPipeline(
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
    pipeline.save_pretrained(str(folder))
    return str(folder)
