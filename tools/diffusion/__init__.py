"""Sampling and denoising with diffusion models (diffusers UNet2DModel + scheduler checkpoints).

    sample_images(request, progress=None, *, limits=None) -> Samples     images from pure noise
    denoise_image(request, progress=None, *, image, limits=None) -> Denoised
                                                     noise an image to a level, then denoise it

Importing this package imports neither torch nor diffusers; the first call does.
"""

from __future__ import annotations

from genai_mcp.tools.diffusion.imaging import Preview, grid_preview
from genai_mcp.tools.diffusion.sampling import Denoised, Samples, denoise_image, sample_images
from genai_mcp.tools.diffusion.schemas import (
    DEFAULT_MAX_PREVIEW_SIDE,
    SCHEDULERS,
    DenoiseImageResult,
    DenoiseInfo,
    DenoiseRequest,
    DiffusionLimits,
    PreviewInfo,
    SampleImagesResult,
    SampleInfo,
    SampleRequest,
    SchedulerName,
    StoredImage,
)

__all__ = [
    "DEFAULT_MAX_PREVIEW_SIDE",
    "SCHEDULERS",
    "DenoiseImageResult",
    "DenoiseInfo",
    "DenoiseRequest",
    "Denoised",
    "DiffusionLimits",
    "Preview",
    "PreviewInfo",
    "SampleImagesResult",
    "SampleInfo",
    "SampleRequest",
    "Samples",
    "SchedulerName",
    "StoredImage",
    "denoise_image",
    "grid_preview",
    "sample_images",
]
