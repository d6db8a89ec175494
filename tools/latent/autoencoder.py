"""The VAE a latent tool works with: `vae/` of a latent-diffusion checkpoint, or an AutoencoderKL alone.

    autoencoder(model, models) -> Autoencoder     loaded once into the model cache (task "latent-vae")

`model` resolves as the text-to-image pipelines' does (house names, folders, hub ids; None: the latent
default), but only the VAE loads: encoding does not need a UNet and a text encoder in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genai_mcp.tools.diffusion.imaging import from_images
from genai_mcp.tools.errors import InvalidInputError, LimitExceededError, ModelUnavailableError
from genai_mcp.tools.latent.pipelines import TASK as PIPELINE_TASK
from genai_mcp.tools.latent.schemas import LatentLimits
from genai_mcp.tools.models import (
    LoadRequest,
    ModelBundle,
    ModelCache,
    default_cache,
    hub_snapshot,
    module_nbytes,
)
from genai_mcp.tools.models.hub import first_line
from genai_mcp.tools.models.loaders import read_json

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["VAE_TASK", "Autoencoder", "autoencoder", "checked_size", "dtype", "pixels"]

VAE_TASK = "latent-vae"


@dataclass(frozen=True)
class Autoencoder:
    id: str
    module: Any  # AutoencoderKL, eval mode
    factor: int  # pixels per latent cell a side
    size: tuple[int, int]  # its own (width, height)
    channels: int  # latent channels
    scaling: float
    shift: float


def autoencoder(model: str | None, models: ModelCache | None) -> Autoencoder:
    cache = models if models is not None else default_cache()
    # The VAE follows the latent pipeline's default and its resolution (house names, folders, ids).
    with cache.using_default(PIPELINE_TASK, model) as chosen:
        bundle = cache.load(VAE_TASK, cache.resolve(PIPELINE_TASK, chosen), _load)
    module = bundle.model
    config = module.config
    factor = 2 ** (len(config.block_out_channels) - 1)
    side = config.sample_size
    h, w = (side, side) if isinstance(side, int) else (int(side[0]), int(side[1]))
    shift = getattr(config, "shift_factor", None) or 0.0
    scaling = float(getattr(config, "scaling_factor", 1.0) or 1.0)
    return Autoencoder(
        bundle.model_id, module, factor, (w, h), int(config.latent_channels), scaling, float(shift)
    )


def _load(request: LoadRequest) -> ModelBundle:
    """The cache's loader for VAE_TASK: `vae/` of a pipeline folder, or an AutoencoderKL folder."""
    import diffusers
    import torch

    path = hub_snapshot(request, what="VAE") if request.source == "hub" else Path(request.ref)
    sub = "vae" if (path / "vae" / "config.json").is_file() else None
    kind = read_json(path / (sub or "") / "config.json").get("_class_name")
    if kind != "AutoencoderKL":
        raise ModelUnavailableError(
            f"{request.model_id} has no AutoencoderKL (found {kind or 'no diffusers config'} in "
            f"{'vae/' if sub else 'its config.json'}); the VAE tools take a latent-diffusion pipeline folder "
            "with vae/, or an AutoencoderKL folder"
        )
    auto: Any = diffusers.AutoencoderKL  # untyped from_pretrained
    try:
        vae = auto.from_pretrained(
            str(path), subfolder=sub, dtype=getattr(torch, request.dtype), local_files_only=True
        )
    except (OSError, ValueError) as exc:
        raise ModelUnavailableError(f"cannot load the VAE of {request.model_id}: {first_line(exc)}") from exc
    vae = vae.to(request.device).eval()
    return ModelBundle(
        model_id=request.model_id,
        task=VAE_TASK,
        device=request.device,
        dtype=request.dtype,
        model=vae,
        processor=None,
        scheduler=None,
        source=request.source,
        nbytes=module_nbytes(vae),
        load_seconds=0.0,
        path=str(path),
    )


def checked_size(
    vae: Autoencoder, width: int | None, height: int | None, limits: LatentLimits
) -> tuple[int, int]:
    w, h = width or vae.size[0], height or vae.size[1]
    for name, value in (("width", w), ("height", h)):
        if value % vae.factor:
            raise InvalidInputError(
                f"{name} is {value}; it must be a multiple of {vae.factor} (the VAE's downsampling factor); "
                f"its own size is {vae.size[0]}x{vae.size[1]}"
            )
    if w * h > limits.max_pixels:
        raise LimitExceededError(f"width x height ({w}x{h})", w * h, limits.max_pixels, "latent.max_pixels")
    return w, h


def pixels(vae: Autoencoder, images: list[Image], size: tuple[int, int]) -> tuple[Any, list[Image]]:
    """(B, 3, H, W) in [-1, 1] on the VAE's device and dtype, and the resized RGB images."""
    from PIL import Image as PILImage

    clean = [im.convert("RGB") for im in images]
    clean = [im if im.size == size else im.resize(size, PILImage.Resampling.LANCZOS) for im in clean]
    device = next(vae.module.parameters()).device
    return from_images(clean, 3).to(device=device, dtype=dtype(vae)), clean


def dtype(vae: Autoencoder) -> Any:
    return next(vae.module.parameters()).dtype
