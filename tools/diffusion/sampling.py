"""The reverse process, diffusers style: the UNet is a pure function, the scheduler is pure math, and
the loop here owns the two and calls `scheduler.step()` once per timestep.

    sample_images(request)        x_T ~ N(0, I), then x_{t-1} = step(eps_theta(x_t, t), t, x_t) down to x_0
    denoise_image(request, image) x_t = add_noise(x_0, eps, t), the jump to any timestep
                                  (sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps), then the same loop from t

One denoising step = one model call = one scheduler step = one `progress(done, total, message)`
call (tools/progress.py), which may raise WorkCancelledError to stop the run within one step. Every call gets
its own scheduler, built from the checkpoint's config (the cached one is shared by concurrent
calls and never touched), and its own torch.Generator, so a seed fixes the result.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import math
import secrets
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from genai_mcp.tools.diffusion.imaging import from_images, mse, to_images
from genai_mcp.tools.diffusion.schemas import (
    SCHEDULERS,
    DenoiseInfo,
    DenoiseRequest,
    DiffusionLimits,
    SampleInfo,
    SampleRequest,
)
from genai_mcp.tools.errors import InvalidInputError, LimitExceededError, ModelUnavailableError
from genai_mcp.tools.models import ModelCache, Task
from genai_mcp.tools.progress import Progress

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["Denoised", "Samples", "denoise_image", "numpy_bridge_quiet", "sample_images"]

logger = logging.getLogger(__name__)

TASK: Task = "unconditional-image-generation"
_SIGMA_SPACE = ("euler", "euler-ancestral")  # their samples are x_0 + sigma eps, not variance-preserving
_WARNINGS_LOCK = threading.Lock()


@dataclass
class Samples:
    images: list[Image]  # num_images PIL images, mode "L" (1-channel model) or "RGB"
    info: SampleInfo


@dataclass
class Denoised:
    input: Image  # the input resized to the model's size and converted to its channels
    noisy: Image  # x_t as a picture (variance-preserving scale, clamped to [-1, 1])
    denoised: Image
    info: DenoiseInfo


@dataclass(frozen=True)
class _Model:
    id: str
    unet: Any
    scheduler: Any  # a fresh scheduler for this call
    channels: int
    height: int
    width: int
    timesteps: int  # T, training timesteps


def sample_images(
    request: SampleRequest,
    progress: Progress | None = None,
    *,
    limits: DiffusionLimits | None = None,
    models: ModelCache | None = None,
) -> Samples:
    """`request.num_images` images drawn from noise in `request.steps` steps.

    Raises LimitExceededError past `limits` (steps also at most the model's training timesteps),
    ModelUnavailableError for a model that is not an unconditional 1- or 3-channel UNet2DModel.
    """
    import torch

    limits = limits or DiffusionLimits()
    if request.num_images > limits.max_num_images:
        raise LimitExceededError(
            "num_images", request.num_images, limits.max_num_images, "diffusion.max_num_images"
        )
    m = _prepare(request.model, request.scheduler, models)
    _check_steps(request.steps, m, limits)
    seed = _seed(request.seed)
    generator = torch.Generator("cpu").manual_seed(seed)
    _set_timesteps(m.scheduler, request.steps)
    if not _distinct(m.scheduler.timesteps):
        raise InvalidInputError(
            f"the {request.scheduler} scheduler cannot make {request.steps} distinct steps from {m.id}'s "
            f"{m.timesteps}-step schedule (its timestep grid repeats); use fewer steps"
        )
    shape = (request.num_images, m.channels, m.height, m.width)
    noise = torch.randn(shape, generator=generator, dtype=torch.float32)  # on the CPU: same on any device
    x = noise.to(_device(m.unet)) * m.scheduler.init_noise_sigma
    start = time.perf_counter()
    x = _reverse(m, x, m.scheduler.timesteps, generator, request.eta, progress)
    elapsed = time.perf_counter() - start
    info = SampleInfo(
        model=m.id,
        scheduler=request.scheduler,
        scheduler_class=type(m.scheduler).__name__,
        steps=len(m.scheduler.timesteps),
        eta=_eta(request),
        seed=seed,
        num_images=request.num_images,
        width=m.width,
        height=m.height,
        channels=m.channels,
        elapsed_seconds=round(elapsed, 4),
    )
    return Samples(to_images(x), info)


def denoise_image(
    request: DenoiseRequest,
    progress: Progress | None = None,
    *,
    image: Image,
    limits: DiffusionLimits | None = None,
    models: ModelCache | None = None,
) -> Denoised:
    """`image` noised to the requested level and denoised back in `request.steps` steps.

    The image is resized to the model's sample size and converted to its channels first; both MSEs
    compare against that converted input. Raises InvalidInputError for a noise level outside the
    model's schedule or more steps than the level leaves room for (at most timestep + 1).
    """
    import torch
    from PIL import Image as PILImage

    limits = limits or DiffusionLimits()
    m = _prepare(request.model, request.scheduler, models)
    _check_steps(request.steps, m, limits)
    target = _target_timestep(request, m.timesteps)
    begin, timesteps = _truncated_schedule(m.scheduler, request.steps, target, m.timesteps)
    t = timesteps[:1]
    if round(float(t[0])) != target:
        logger.warning(
            "timestep %d snapped to %d, the nearest at or below it on %s's grid for %d steps",
            target,
            round(float(t[0])),
            type(m.scheduler).__name__,
            request.steps,
            extra={"figures": {"requested": target, "timestep": round(float(t[0])), "steps": request.steps}},
        )
    mode = "L" if m.channels == 1 else "RGB"
    clean = image.convert(mode)
    if clean.size != (m.width, m.height):
        clean = clean.resize((m.width, m.height), PILImage.Resampling.LANCZOS)
    changes = []
    if clean.size != image.size:
        changes.append(f"resized from {image.width}x{image.height} to {m.width}x{m.height}")
    if mode == "L" and _has_colour(image):  # a grey picture sent as RGB loses nothing
        changes.append(f"converted from {image.mode} (colour) to {mode} (grey)")
    if changes:
        logger.warning(
            "input image %s for the model",
            " and ".join(changes),
            extra={
                "figures": {
                    "input": [image.width, image.height, image.mode],
                    "model": [m.width, m.height, mode],
                }
            },
        )
    seed = _seed(request.seed)
    generator = torch.Generator("cpu").manual_seed(seed)
    x0 = from_images([clean], m.channels)
    noise = torch.randn(x0.shape, generator=generator, dtype=torch.float32)
    device = _device(m.unet)
    noisy = m.scheduler.add_noise(x0.to(device), noise.to(device), t.to(device))
    vp = noisy
    if request.scheduler in _SIGMA_SPACE:
        vp = noisy / math.sqrt(1.0 + float(m.scheduler.sigmas[begin]) ** 2)
    start = time.perf_counter()
    x = _reverse(m, noisy, timesteps, generator, request.eta, progress)
    elapsed = time.perf_counter() - start
    noisy_image, denoised_image = to_images(vp)[0], to_images(x)[0]
    t_int = round(float(t[0]))
    info = DenoiseInfo(
        model=m.id,
        scheduler=request.scheduler,
        scheduler_class=type(m.scheduler).__name__,
        steps=len(timesteps),
        eta=_eta(request),
        seed=seed,
        timestep=t_int,
        num_train_timesteps=m.timesteps,
        strength=round((t_int + 1) / m.timesteps, 6),
        signal_fraction=round(float(m.scheduler.alphas_cumprod[t_int]), 6),
        input_width=image.width,
        input_height=image.height,
        width=m.width,
        height=m.height,
        channels=m.channels,
        mse_noisy=round(mse(noisy_image, clean), 6),
        mse_denoised=round(mse(denoised_image, clean), 6),
        elapsed_seconds=round(elapsed, 4),
    )
    return Denoised(clean, noisy_image, denoised_image, info)


# ---- the loop


def _reverse(
    m: _Model, x: Any, timesteps: Any, generator: Any, eta: float | None, progress: Progress | None
) -> Any:
    """Run `scheduler.step` over `timesteps` from sample `x`; returns x_0 (B, C, H, W) in model space."""
    import torch

    kwargs: dict[str, Any] = {}
    accepted = inspect.signature(m.scheduler.step).parameters
    if "generator" in accepted:  # the ancestral samplers draw fresh noise each step
        kwargs["generator"] = generator
    if eta is not None:
        kwargs["eta"] = eta
    dtype = next(m.unet.parameters()).dtype
    total = len(timesteps)
    with torch.inference_mode():
        for i, t in enumerate(timesteps):
            model_input = m.scheduler.scale_model_input(x, t)
            eps = m.unet(model_input.to(dtype), t).sample.float()  # (B, C, H, W)
            x = m.scheduler.step(eps, t, x, **kwargs).prev_sample
            if progress is not None:
                progress(i + 1, total, f"step {i + 1}/{total} (t={round(float(t))})")
    return x


def _has_colour(image: Image) -> bool:
    from PIL import ImageChops

    if image.mode != "RGB":
        return image.mode not in ("L", "1", "I", "F")
    r, g, b = image.split()
    return bool(ImageChops.difference(r, g).getbbox() or ImageChops.difference(g, b).getbbox())


def _truncated_schedule(scheduler: Any, steps: int, target: int, num_train: int) -> tuple[int, Any]:
    """The last `steps` timesteps of the coarsest schedule whose `steps`-th last timestep is <= target.

    The reverse run then starts as near the requested noise level as the sampler's grid allows and
    ends where a full run ends. Returns (begin index, those timesteps).
    """
    # A linear scan, not a bisection: some samplers' grids collapse (repeat timesteps) when asked
    # for many steps, so "fits" is not monotone in n. At most num_train cheap numpy set-ups.
    for n in range(steps, num_train + 1):
        _set_timesteps(scheduler, n)
        ts = scheduler.timesteps
        begin = len(ts) - steps
        if begin >= 0 and float(ts[begin]) <= target and _distinct(ts[begin:]):
            if hasattr(scheduler, "set_begin_index"):  # sigma-indexed samplers look sigmas up by index
                scheduler.set_begin_index(begin)
            return begin, ts[begin:]
    raise InvalidInputError(
        f"steps is {steps}, but the noise level t={target} leaves room for at most {target + 1} steps "
        f"(fewer with some schedulers, {type(scheduler).__name__} here); use fewer steps or a higher "
        "strength / timestep"
    )


def _distinct(timesteps: Any) -> bool:
    values = [float(t) for t in timesteps]
    return all(a > b for a, b in itertools.pairwise(values))


@contextmanager
def numpy_bridge_quiet() -> Iterator[None]:
    """Silence one known DeprecationWarning from diffusers' sigma schedulers (np.array() of a torch
    tensor under numpy 2: "__array__ implementation doesn't accept a copy keyword"); harmless.

    catch_warnings swaps process-wide state, so the lock keeps concurrent calls from restoring
    each other's filters out of order.
    """
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=r"__array__ implementation doesn't accept a copy keyword",
            category=DeprecationWarning,
        )
        yield


def _set_timesteps(scheduler: Any, n: int) -> None:
    with numpy_bridge_quiet():
        scheduler.set_timesteps(n)


# ---- checks and set-up


def _prepare(model: str | None, scheduler_name: str, models: ModelCache | None) -> _Model:
    import diffusers

    from genai_mcp.tools.models import load_model

    bundle = load_model(TASK, model, models=models)  # None: default_cache()
    config = bundle.model.config
    channels = int(config.in_channels)
    if channels not in (1, 3) or int(config.out_channels) != channels:
        raise ModelUnavailableError(
            f"{bundle.model_id} maps {config.in_channels} to {config.out_channels} channels; "
            "images need 1 (greyscale) or 3 (RGB) in and out"
        )
    if getattr(config, "num_class_embeds", None) or getattr(config, "class_embed_type", None):
        raise ModelUnavailableError(
            f"{bundle.model_id} is class-conditional (it needs class labels); only unconditional UNets work here"
        )
    if bundle.scheduler is None:  # the loader always attaches one; a custom cache might not
        raise ModelUnavailableError(f"{bundle.model_id} was loaded without a scheduler")
    size = config.sample_size
    height, width = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    scheduler_cls: Any = getattr(diffusers, SCHEDULERS[scheduler_name])
    with numpy_bridge_quiet():
        scheduler = scheduler_cls.from_config(bundle.scheduler.config)
    timesteps = int(scheduler.config.num_train_timesteps)
    return _Model(bundle.model_id, bundle.model, scheduler, channels, height, width, timesteps)


def _check_steps(steps: int, m: _Model, limits: DiffusionLimits) -> None:
    if steps > limits.max_steps:
        raise LimitExceededError("steps", steps, limits.max_steps, "diffusion.max_steps")
    if steps > m.timesteps:
        raise LimitExceededError(
            f"steps (for {m.id}, trained with {m.timesteps} timesteps)", steps, m.timesteps
        )


def _target_timestep(request: DenoiseRequest, num_train: int) -> int:
    if request.timestep is not None:
        if request.timestep > num_train - 1:
            raise InvalidInputError(
                f"timestep is {request.timestep}; this model's timesteps run from 0 to {num_train - 1}"
            )
        return request.timestep
    strength = 0.5 if request.strength is None else request.strength
    return max(0, math.ceil(strength * num_train) - 1)


def _seed(seed: int | None) -> int:
    return secrets.randbelow(2**31) if seed is None else seed


def _eta(request: SampleRequest | DenoiseRequest) -> float | None:
    if request.scheduler != "ddim":
        return None
    return 0.0 if request.eta is None else request.eta


def _device(module: Any) -> Any:
    return next(module.parameters()).device
