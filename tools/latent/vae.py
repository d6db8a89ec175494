"""A VAE's latent space: encode, decode, interpolate, attribute arithmetic (any diffusers AutoencoderKL).

    encode_image(request, *, image) -> Encoded          q(z|x) = N(mu, diag(sigma^2)), its KL to N(0, I)
    decode_latent(request) -> Decoded                   x = D(z)
    interpolate_images(request, progress, *, images) -> Frames
                                                        D(lerp(mu_a, mu_b, t)) or D(slerp(...)), t in [0, 1]
    latent_arithmetic(request, progress, *, image, set_a, set_b) -> Frames
                                                        D(mu + alpha (mean mu(A) - mean mu(B)))

Latents here are in the posterior's own space. A latent-diffusion UNet works on
(z - shift_factor) * scaling_factor instead (SD 1.x: 0.18215), which decode_latent(scaled=True)
undoes. The VAE is either a checkpoint's `vae/` (a Stable Diffusion folder, the house LDM) or an
AutoencoderKL folder alone; it loads once into the model cache (task "latent-vae", apart from the
pipeline, so encoding does not load a UNet and a text encoder). Interpolation and arithmetic call
`progress` once per decoded frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genai_mcp.tools.diffusion.imaging import from_images, mse, to_images
from genai_mcp.tools.errors import InvalidInputError, LimitExceededError, ModelUnavailableError
from genai_mcp.tools.latent.pipelines import TASK as PIPELINE_TASK
from genai_mcp.tools.latent.schemas import (
    ArithmeticInfo,
    ArithmeticRequest,
    DecodeLatentRequest,
    EncodeImageRequest,
    EncodeInfo,
    InterpolateInfo,
    InterpolateRequest,
    LatentLimits,
)
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
from genai_mcp.tools.progress import Progress

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = [
    "VAE_TASK",
    "Decoded",
    "Encoded",
    "Frames",
    "decode_latent",
    "encode_image",
    "interpolate_images",
    "latent_arithmetic",
    "lerp",
    "slerp",
]

VAE_TASK = "latent-vae"
_PARALLEL = 1e-4  # radians: closer than this, slerp's sin(omega) division is noise, so lerp


@dataclass
class Encoded:
    input: Image  # as encoded (resized)
    reconstruction: Image
    info: EncodeInfo


@dataclass
class Decoded:
    image: Image
    model: str
    shape: list[int]


@dataclass
class Frames:
    images: list[Image]
    strip: Image  # the frames side by side, full size, 1 px apart
    info: InterpolateInfo | ArithmeticInfo


@dataclass(frozen=True)
class _Vae:
    id: str
    module: Any  # AutoencoderKL, eval mode
    factor: int  # pixels per latent cell a side
    size: tuple[int, int]  # its own (width, height)
    channels: int  # latent channels
    scaling: float
    shift: float


def encode_image(
    request: EncodeImageRequest,
    *,
    image: Image,
    limits: LatentLimits | None = None,
    models: ModelCache | None = None,
) -> Encoded:
    """The posterior of `image` (resized to width x height, default the VAE's own size) and decode(mean)."""
    import torch

    limits = limits or LatentLimits()
    vae = _loaded(request.model, models)
    size = _size(vae, request.width, request.height, limits)
    x, clean = _pixels(vae, [image], size)
    with torch.inference_mode():
        posterior = vae.module.encode(x).latent_dist
        mean, logvar = posterior.mean[0].float(), posterior.logvar[0].float()  # (C, h, w)
        kl = 0.5 * float(torch.sum(mean.pow(2) + logvar.exp() - 1.0 - logvar))
        back = to_images(vae.module.decode(mean[None].to(x.dtype)).sample)[0]
    info = EncodeInfo(
        model=vae.id,
        shape=list(mean.shape),
        scaling_factor=vae.scaling,
        mean=_nested(mean),
        log_variance=_nested(logvar),
        kl_to_prior=round(kl, 6),
        kl_per_element=round(kl / mean.numel(), 6),
        width=size[0],
        height=size[1],
        input_width=image.width,
        input_height=image.height,
        reconstruction_mse=round(mse(back, clean[0]), 6),
    )
    return Encoded(clean[0], back, info)


def decode_latent(
    request: DecodeLatentRequest, *, limits: LatentLimits | None = None, models: ModelCache | None = None
) -> Decoded:
    """The image of a (C, h, w) latent; InvalidInputError for a ragged, non-finite or misshapen one."""
    import torch

    limits = limits or LatentLimits()
    vae = _loaded(request.model, models)
    z = _latent(request.latent, vae, limits)
    if request.scaled:
        z = z / vae.scaling + vae.shift
    with torch.inference_mode():
        image = to_images(vae.module.decode(z[None].to(_dtype(vae))).sample)[0]
    return Decoded(image, vae.id, list(z.shape))


def interpolate_images(
    request: InterpolateRequest,
    progress: Progress | None = None,
    *,
    images: tuple[Image, Image],
    limits: LatentLimits | None = None,
    models: ModelCache | None = None,
) -> Frames:
    """`request.frames` decoded points from mu(a) to mu(b), both ends included."""
    limits = limits or LatentLimits()
    _check_frames(request.frames, limits)
    vae = _loaded(request.model, models)
    a, b = _means(vae, list(images), limits)
    angle = _angle(a, b)
    spherical = request.method == "spherical" and angle >= _PARALLEL
    ts = [i / (request.frames - 1) for i in range(request.frames)]
    points = [slerp(a, b, t) if spherical else lerp(a, b, t) for t in ts]
    info = InterpolateInfo(
        model=vae.id,
        method=request.method,
        frames=request.frames,
        shape=list(a.shape),
        angle_degrees=round(math.degrees(angle), 4),
        fell_back_to_linear=request.method == "spherical" and not spherical,
        width=vae.size[0],
        height=vae.size[1],
    )
    return _frames(_decode_each(vae, points, progress), info)


def latent_arithmetic(
    request: ArithmeticRequest,
    progress: Progress | None = None,
    *,
    image: Image,
    set_a: list[Image],
    set_b: list[Image],
    limits: LatentLimits | None = None,
    models: ModelCache | None = None,
) -> Frames:
    """D(mu + alpha d) for each alpha, d = mean mu(set_a) - mean mu(set_b)."""
    limits = limits or LatentLimits()
    _check_frames(len(request.alphas), limits, what="alphas")
    for name, group in (("set_a", set_a), ("set_b", set_b)):
        if len(group) > limits.max_set_images:
            raise LimitExceededError(
                f"{name}'s images", len(group), limits.max_set_images, "latent.max_set_images"
            )
    vae = _loaded(request.model, models)
    (z,) = _means(vae, [image], limits)
    direction = _means(vae, set_a, limits).mean(0) - _means(vae, set_b, limits).mean(0)
    info = ArithmeticInfo(
        model=vae.id,
        alphas=list(request.alphas),
        shape=list(z.shape),
        direction_norm=round(float(direction.norm()), 6),
        set_a=len(set_a),
        set_b=len(set_b),
        width=vae.size[0],
        height=vae.size[1],
    )
    return _frames(_decode_each(vae, [z + alpha * direction for alpha in request.alphas], progress), info)


def lerp(a: Any, b: Any, t: float) -> Any:
    return (1.0 - t) * a + t * b


def slerp(a: Any, b: Any, t: float) -> Any:
    """Along the great circle from a to b (Shoemake): sin((1-t) w)/sin w a + sin(t w)/sin w b, w the
    angle between them; the norm moves between |a| and |b| as the angle is swept."""
    omega = _angle(a, b)
    s = math.sin(omega)
    return (math.sin((1.0 - t) * omega) / s) * a + (math.sin(t * omega) / s) * b


# ---- loading and checks


def _loaded(model: str | None, models: ModelCache | None) -> _Vae:
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
    return _Vae(bundle.model_id, module, factor, (w, h), int(config.latent_channels), scaling, float(shift))


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


def _size(vae: _Vae, width: int | None, height: int | None, limits: LatentLimits) -> tuple[int, int]:
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


def _pixels(vae: _Vae, images: list[Image], size: tuple[int, int]) -> tuple[Any, list[Image]]:
    """(B, 3, H, W) in [-1, 1] on the VAE's device and dtype, and the resized RGB images."""
    from PIL import Image as PILImage

    clean = [im.convert("RGB") for im in images]
    clean = [im if im.size == size else im.resize(size, PILImage.Resampling.LANCZOS) for im in clean]
    device = next(vae.module.parameters()).device
    return from_images(clean, 3).to(device=device, dtype=_dtype(vae)), clean


def _means(vae: _Vae, images: list[Image], limits: LatentLimits) -> Any:
    """Posterior means (B, C, h, w), float32, of `images` at the VAE's own size."""
    import torch

    x, _ = _pixels(vae, images, _size(vae, None, None, limits))
    with torch.inference_mode():
        return vae.module.encode(x).latent_dist.mean.float()


def _decode_each(vae: _Vae, points: list[Any], progress: Progress | None) -> list[Image]:
    import torch

    frames = []
    with torch.inference_mode():
        for i, z in enumerate(points):
            frames.append(to_images(vae.module.decode(z[None].to(_dtype(vae))).sample)[0])
            if progress is not None:
                progress(i + 1, len(points), f"frame {i + 1}/{len(points)}")
    return frames


def _frames(images: list[Image], info: InterpolateInfo | ArithmeticInfo) -> Frames:
    from PIL import Image as PILImage

    w, h = images[0].size
    strip = PILImage.new("RGB", (len(images) * (w + 1) - 1, h), 0)
    for i, im in enumerate(images):
        strip.paste(im, (i * (w + 1), 0))
    return Frames(images, strip, info)


def _latent(values: list[list[list[float]]], vae: _Vae, limits: LatentLimits) -> Any:
    import torch

    c, h = len(values), len(values[0])
    w = len(values[0][0]) if h else 0
    if c != vae.channels:
        raise InvalidInputError(f"the latent has {c} channels; {vae.id}'s VAE has {vae.channels}")
    if h == 0 or w == 0 or any(len(row) != h or any(len(r) != w for r in row) for row in values):
        raise InvalidInputError(f"the latent must be {c} x h x w nested lists of equal lengths (h, w >= 1)")
    pixels = h * w * vae.factor**2
    if pixels > limits.max_pixels:
        raise LimitExceededError(
            f"the decoded image's size ({w * vae.factor}x{h * vae.factor})",
            pixels,
            limits.max_pixels,
            "latent.max_pixels",
        )
    z = torch.tensor(values, dtype=torch.float32)
    if not bool(torch.isfinite(z).all()):
        raise InvalidInputError("the latent holds NaN or infinite values")
    return z.to(next(vae.module.parameters()).device)


def _check_frames(n: int, limits: LatentLimits, what: str = "frames") -> None:
    if n > limits.max_frames:
        raise LimitExceededError(what, n, limits.max_frames, "latent.max_frames")


def _angle(a: Any, b: Any) -> float:
    import torch

    cos = torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0)
    return math.acos(max(-1.0, min(1.0, float(cos))))


def _nested(t: Any) -> list[list[list[float]]]:
    return [[[round(float(v), 5) for v in row] for row in channel] for channel in t.cpu().tolist()]


def _dtype(vae: _Vae) -> Any:
    return next(vae.module.parameters()).dtype
