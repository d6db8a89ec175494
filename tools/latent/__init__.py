"""Latent diffusion and VAE latent spaces on any diffusers checkpoint in the Stable Diffusion family.

    generate_image(request, progress=None) -> Generated        text-to-image (pipelines.py)
    edit_image(request, progress=None, *, image) -> Edited     image-to-image
    encode_image / decode_latent / interpolate_images / latent_arithmetic       the VAE (vae.py)

Importing this package imports neither torch nor diffusers; the first call does.
"""

from __future__ import annotations

from genai_mcp.tools.latent.autoencoder import VAE_TASK, Autoencoder, autoencoder
from genai_mcp.tools.latent.pipelines import Edited, Generated, edit_image, generate_image
from genai_mcp.tools.latent.schemas import (
    ArithmeticInfo,
    ArithmeticRequest,
    ArithmeticResult,
    DecodeLatentRequest,
    DecodeResult,
    EditImageRequest,
    EditInfo,
    EditResult,
    EncodeImageRequest,
    EncodeInfo,
    EncodeResult,
    GenerateImageRequest,
    GenerateInfo,
    GenerateResult,
    InterpolateInfo,
    InterpolateRequest,
    InterpolateResult,
    LatentLimits,
    PromptTokens,
)
from genai_mcp.tools.latent.vae import (
    Decoded,
    Encoded,
    Frames,
    check_arithmetic,
    decode_latent,
    encode_image,
    interpolate_images,
    latent_arithmetic,
)

__all__ = [
    "VAE_TASK",
    "ArithmeticInfo",
    "ArithmeticRequest",
    "ArithmeticResult",
    "Autoencoder",
    "DecodeLatentRequest",
    "DecodeResult",
    "Decoded",
    "EditImageRequest",
    "EditInfo",
    "EditResult",
    "Edited",
    "EncodeImageRequest",
    "EncodeInfo",
    "EncodeResult",
    "Encoded",
    "Frames",
    "GenerateImageRequest",
    "GenerateInfo",
    "GenerateResult",
    "Generated",
    "InterpolateInfo",
    "InterpolateRequest",
    "InterpolateResult",
    "LatentLimits",
    "PromptTokens",
    "autoencoder",
    "check_arithmetic",
    "decode_latent",
    "edit_image",
    "encode_image",
    "generate_image",
    "interpolate_images",
    "latent_arithmetic",
]
