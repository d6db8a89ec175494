"""Text-to-image and image-to-image on any diffusers latent-diffusion pipeline.

    generate_image(request, progress=None) -> Generated     z_T ~ N(0, I) in latent space, denoised
                                                            with the prompt's text embeddings, decoded
    edit_image(request, progress=None, *, image) -> Edited  the image encoded, noised to `strength`,
                                                            denoised towards the prompt, decoded

The pipeline comes from the model cache (task "text-to-image": AutoPipelineForText2Image), so a
checkpoint loads once; each call builds its own pipeline around the loaded components with
`from_pipe` (image-to-image: AutoPipelineForImage2Image) and its own scheduler from the
checkpoint's config, so concurrent calls share weights and nothing else. One denoising step = one
`progress(done, total, message)` call from diffusers' callback_on_step_end, which may raise
WorkCancelledError to stop the run within one step.
"""

from __future__ import annotations

import inspect
import logging
import math
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from genai_mcp.tools.diffusion.sampling import numpy_bridge_quiet
from genai_mcp.tools.diffusion.schemas import SCHEDULERS
from genai_mcp.tools.errors import InvalidInputError, LimitExceededError, ModelUnavailableError
from genai_mcp.tools.latent.schemas import (
    EditImageRequest,
    EditInfo,
    GenerateImageRequest,
    GenerateInfo,
    LatentLimits,
    PromptTokens,
)
from genai_mcp.tools.models import ModelCache, Task, load_model
from genai_mcp.tools.models.hub import first_line
from genai_mcp.tools.progress import Progress

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["TASK", "Edited", "Generated", "default_size", "edit_image", "generate_image", "size_multiple"]

logger = logging.getLogger(__name__)

TASK: Task = "text-to-image"


@dataclass
class Generated:
    images: list[Image]  # RGB, width x height
    info: GenerateInfo


@dataclass
class Edited:
    input: Image  # the input resized to width x height
    images: list[Image]
    info: EditInfo


def generate_image(
    request: GenerateImageRequest,
    progress: Progress | None = None,
    *,
    limits: LatentLimits | None = None,
    models: ModelCache | None = None,
) -> Generated:
    """`request.num_images` images of `request.prompt`.

    Raises LimitExceededError past `limits`, InvalidInputError for a size that is not a multiple
    of 8 (of the VAE's factor), ModelUnavailableError for a model that is not a text-to-image pipeline.
    """
    from diffusers import AutoPipelineForText2Image

    limits = limits or LatentLimits()
    pipe, model_id = _loaded(request.model, models)
    width, height = _checked(request, pipe, limits)
    run = _per_call(AutoPipelineForText2Image, pipe, request, "text-to-image")
    tokens = _tokens(pipe, request.prompt), _tokens(pipe, request.negative_prompt)
    seeds, generators = _generators(request.seed, request.num_images)
    start = time.perf_counter()
    out = _call(
        run,
        progress,
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        num_inference_steps=request.steps,
        guidance_scale=request.guidance_scale,
        num_images_per_prompt=request.num_images,
        width=width,
        height=height,
        generator=generators,
    )
    info = _info(run, model_id, request, seeds, (width, height), tokens, start)
    return Generated(list(out.images), info)


def edit_image(
    request: EditImageRequest,
    progress: Progress | None = None,
    *,
    image: Image,
    limits: LatentLimits | None = None,
    models: ModelCache | None = None,
) -> Edited:
    """`image` (resized to width x height) re-drawn towards `request.prompt`; about
    steps x strength steps run. Errors as generate_image's."""
    from diffusers import AutoPipelineForImage2Image
    from PIL import Image as PILImage

    limits = limits or LatentLimits()
    pipe, model_id = _loaded(request.model, models)
    width, height = _checked(request, pipe, limits)
    run = _per_call(AutoPipelineForImage2Image, pipe, request, "image-to-image")
    tokens = _tokens(pipe, request.prompt), _tokens(pipe, request.negative_prompt)
    if int(request.steps * request.strength) < 1:  # diffusers would run an empty loop and fail in the UNet
        raise InvalidInputError(
            f"steps x strength = {request.steps} x {request.strength:g} runs no step; use steps >= "
            f"{math.ceil(1 / request.strength)} or a higher strength"
        )
    clean = image.convert("RGB")
    if clean.size != (width, height):
        clean = clean.resize((width, height), PILImage.Resampling.LANCZOS)
    seeds, generators = _generators(request.seed, request.num_images)
    start = time.perf_counter()
    out = _call(
        run,
        progress,
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        image=clean,
        strength=request.strength,
        num_inference_steps=request.steps,
        guidance_scale=request.guidance_scale,
        num_images_per_prompt=request.num_images,
        generator=generators,
    )
    info = _info(run, model_id, request, seeds, (width, height), tokens, start)
    edit = EditInfo(
        **info.model_dump(), strength=request.strength, input_width=image.width, input_height=image.height
    )
    return Edited(clean, list(out.images), edit)


def size_multiple(pipe: Any) -> int:
    """What width and height must be multiples of: 8 (the pipelines' own check) and the VAE factor."""
    return math.lcm(8, int(pipe.vae_scale_factor))


def default_size(pipe: Any) -> tuple[int, int]:
    """The checkpoint's own (width, height): the denoiser's sample size times the VAE factor."""
    denoiser = getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)
    size: Any = getattr(getattr(denoiser, "config", None), "sample_size", None)
    if size is None:
        size = getattr(pipe, "default_sample_size", 64)
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    factor = int(pipe.vae_scale_factor)
    return w * factor, h * factor


# ---- set-up and checks


def _loaded(model: str | None, models: ModelCache | None) -> tuple[Any, str]:
    bundle = load_model(TASK, model, models=models)
    return bundle.model, bundle.model_id


def _per_call(auto: Any, pipe: Any, request: GenerateImageRequest | EditImageRequest, kind: str) -> Any:
    """A `kind` pipeline (`auto`: its AutoPipeline) over the loaded components, with a scheduler of its own."""
    import diffusers

    chosen: Any = (
        getattr(diffusers, SCHEDULERS[request.scheduler]) if request.scheduler else type(pipe.scheduler)
    )
    # Latents are not in [-1, 1]: a scheduler that clips x_0 there (DDPM's and DDIM's default) would
    # ruin them, and the Stable Diffusion pipelines rewrite such a config with a FutureWarning.
    clip = {"clip_sample": False} if "clip_sample" in inspect.signature(chosen.__init__).parameters else {}
    with numpy_bridge_quiet():
        scheduler = chosen.from_config(pipe.scheduler.config, **clip)
    plain = scheduler.set_timesteps

    def set_timesteps(*args: Any, **kwargs: Any) -> Any:  # the pipeline calls it; same known warning
        with numpy_bridge_quiet():
            return plain(*args, **kwargs)

    scheduler.set_timesteps = set_timesteps
    try:
        run = auto.from_pipe(pipe, scheduler=scheduler)
    except ValueError as exc:  # diffusers has no `kind` sibling of this pipeline class
        raise ModelUnavailableError(
            f"{type(pipe).__name__} has no {kind} form in diffusers: {first_line(exc)}"
        ) from None
    run.set_progress_bar_config(disable=True)
    return run


def _checked(
    request: GenerateImageRequest | EditImageRequest, pipe: Any, limits: LatentLimits
) -> tuple[int, int]:
    """(width, height) after every limit is checked."""
    for what, text in (("prompt", request.prompt), ("negative_prompt", request.negative_prompt)):
        if text is not None and len(text) > limits.max_prompt_chars:
            raise LimitExceededError(
                f"{what} length in characters", len(text), limits.max_prompt_chars, "latent.max_prompt_chars"
            )
    if request.steps > limits.max_steps:
        raise LimitExceededError("steps", request.steps, limits.max_steps, "latent.max_steps")
    trained = int(pipe.scheduler.config.get("num_train_timesteps", 1000))
    if request.steps > trained:
        raise LimitExceededError(
            f"steps (the model was trained with {trained} timesteps)", request.steps, trained
        )
    if request.num_images > limits.max_num_images:
        raise LimitExceededError(
            "num_images", request.num_images, limits.max_num_images, "latent.max_num_images"
        )
    own_w, own_h = default_size(pipe)
    width, height = request.width or own_w, request.height or own_h
    multiple = size_multiple(pipe)
    for name, value in (("width", width), ("height", height)):
        if value % multiple:
            raise InvalidInputError(
                f"{name} is {value}; it must be a multiple of {multiple} (the VAE works on {multiple}-pixel "
                f"blocks), e.g. {max(multiple, value // multiple * multiple)}; this checkpoint's own size is "
                f"{own_w}x{own_h}"
            )
    if width * height > limits.max_pixels:
        raise LimitExceededError(
            f"width x height ({width}x{height})", width * height, limits.max_pixels, "latent.max_pixels"
        )
    if request.negative_prompt and request.guidance_scale <= 1.0:
        logger.warning(
            "negative_prompt has no effect at guidance_scale %g (guidance is off)", request.guidance_scale
        )
    return width, height


def _tokens(pipe: Any, text: str | None) -> PromptTokens | None:
    """How much of `text` the text encoder reads: pipelines cut prompts at the tokenizer's window."""
    tokenizer = getattr(pipe, "tokenizer", None)
    if text is None or tokenizer is None:
        return None
    ids = tokenizer(text, truncation=False).input_ids
    window = int(tokenizer.model_max_length)
    dropped = max(0, len(ids) - window)
    cut = tokenizer.decode(ids[window - 1 : len(ids) - 1]).strip() if dropped else ""  # EOS is kept
    if dropped:
        logger.warning(
            "prompt is %d tokens; the text encoder reads %d, so %d were dropped: %r",
            len(ids),
            window,
            dropped,
            cut[:200],
            extra={"figures": {"tokens": len(ids), "window": window, "dropped": dropped}},
        )
    return PromptTokens(
        tokens=len(ids), used=min(len(ids), window), dropped=dropped, max_tokens=window, dropped_text=cut
    )


def _generators(seed: int | None, n: int) -> tuple[list[int], list[Any]]:
    """One seed and CPU generator per image: image i of seed s is image 0 of seed s + i."""
    import torch

    first = secrets.randbelow(2**31) if seed is None else seed
    seeds = [first + i for i in range(n)]
    return seeds, [torch.Generator("cpu").manual_seed(s) for s in seeds]


def _call(run: Any, progress: Progress | None, **kwargs: Any) -> Any:
    def on_step_end(pipe: Any, i: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        if progress is not None:
            total = int(pipe.num_timesteps)
            progress(i + 1, total, f"step {i + 1}/{total} (t={round(float(t))})")
        return {}

    try:
        return run(**kwargs, callback_on_step_end=on_step_end)
    except ValueError as exc:  # diffusers' own argument checks (e.g. strength x steps < 1)
        raise InvalidInputError(f"{type(run).__name__} refused the arguments: {first_line(exc)}") from None


def _info(
    run: Any,
    model_id: str,
    request: GenerateImageRequest | EditImageRequest,
    seeds: list[int],
    size: tuple[int, int],
    tokens: tuple[PromptTokens | None, PromptTokens | None],
    start: float,
) -> GenerateInfo:
    own = default_size(run)
    return GenerateInfo(
        model=model_id,
        pipeline_class=type(run).__name__,
        scheduler_class=type(run.scheduler).__name__,
        steps=int(run.num_timesteps),
        guidance_scale=request.guidance_scale,
        seeds=seeds,
        num_images=len(seeds),
        width=size[0],
        height=size[1],
        default_size=[own[0], own[1]],
        prompt_tokens=tokens[0],
        negative_prompt_tokens=tokens[1],
        elapsed_seconds=round(time.perf_counter() - start, 4),
    )
