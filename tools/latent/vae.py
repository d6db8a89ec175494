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
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from genai_mcp.tools.diffusion.imaging import mse, to_images
from genai_mcp.tools.errors import InvalidInputError, LimitExceededError
from genai_mcp.tools.latent.autoencoder import Autoencoder, autoencoder, checked_size, dtype, pixels
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
from genai_mcp.tools.models import ModelCache
from genai_mcp.tools.progress import Progress

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = [
    "Decoded",
    "Encoded",
    "Frames",
    "check_arithmetic",
    "decode_latent",
    "encode_image",
    "interpolate_images",
    "latent_arithmetic",
    "lerp",
    "slerp",
]

InfoT = TypeVar("InfoT", InterpolateInfo, ArithmeticInfo)
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
class Frames(Generic[InfoT]):
    images: list[Image]
    strip: Image  # the frames side by side, full size, 1 px apart
    info: InfoT


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
    vae = autoencoder(request.model, models)
    size = checked_size(vae, request.width, request.height, limits)
    x, clean = pixels(vae, [image], size)
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
    vae = autoencoder(request.model, models)
    z = _latent(request.latent, vae, limits)
    if request.scaled:
        z = z / vae.scaling + vae.shift
    with torch.inference_mode():
        image = to_images(vae.module.decode(z[None].to(dtype(vae))).sample)[0]
    return Decoded(image, vae.id, list(z.shape))


def interpolate_images(
    request: InterpolateRequest,
    progress: Progress | None = None,
    *,
    images: tuple[Image, Image],
    limits: LatentLimits | None = None,
    models: ModelCache | None = None,
) -> Frames[InterpolateInfo]:
    """`request.frames` decoded points from mu(a) to mu(b), both ends included."""
    limits = limits or LatentLimits()
    _check_frames(request.frames, limits)
    vae = autoencoder(request.model, models)
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
) -> Frames[ArithmeticInfo]:
    """D(mu + alpha d) for each alpha, d = mean mu(set_a) - mean mu(set_b)."""
    limits = limits or LatentLimits()
    check_arithmetic(request, limits)
    vae = autoencoder(request.model, models)
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


def check_arithmetic(request: ArithmeticRequest, limits: LatentLimits) -> None:
    """latent_arithmetic's count limits, which a caller can check before decoding any image."""
    _check_frames(len(request.alphas), limits, what="alphas")
    for name, group in (("set_a", request.set_a), ("set_b", request.set_b)):
        if len(group) > limits.max_set_images:
            raise LimitExceededError(
                f"{name}'s images", len(group), limits.max_set_images, "latent.max_set_images"
            )


def lerp(a: Any, b: Any, t: float) -> Any:
    return (1.0 - t) * a + t * b


def slerp(a: Any, b: Any, t: float) -> Any:
    """Along the great circle from a to b (Shoemake): sin((1-t) w)/sin w a + sin(t w)/sin w b, w the
    angle between them; the norm moves between |a| and |b| as the angle is swept."""
    omega = _angle(a, b)
    s = math.sin(omega)
    return (math.sin((1.0 - t) * omega) / s) * a + (math.sin(t * omega) / s) * b


# ---- checks and helpers


def _means(vae: Autoencoder, images: list[Image], limits: LatentLimits) -> Any:
    """Posterior means (B, C, h, w), float32, of `images` at the VAE's own size."""
    import torch

    x, _ = pixels(vae, images, checked_size(vae, None, None, limits))
    with torch.inference_mode():
        return vae.module.encode(x).latent_dist.mean.float()


def _decode_each(vae: Autoencoder, points: list[Any], progress: Progress | None) -> list[Image]:
    import torch

    frames = []
    with torch.inference_mode():
        for i, z in enumerate(points):
            frames.append(to_images(vae.module.decode(z[None].to(dtype(vae))).sample)[0])
            if progress is not None:
                progress(i + 1, len(points), f"frame {i + 1}/{len(points)}")
    return frames


def _frames(images: list[Image], info: InfoT) -> Frames[InfoT]:
    from PIL import Image as PILImage

    w, h = images[0].size
    strip = PILImage.new("RGB", (len(images) * (w + 1) - 1, h), 0)
    for i, im in enumerate(images):
        strip.paste(im, (i * (w + 1), 0))
    return Frames(images, strip, info)


def _latent(values: list[list[list[float]]], vae: Autoencoder, limits: LatentLimits) -> Any:
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
