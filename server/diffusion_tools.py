"""MCP tools for diffusion: sample_images and denoise_image.

Each runs its denoising loop in a worker thread (other requests are answered meanwhile), reports
one progress notification per scheduler step when the caller asked for progress, and stops within
one step when the caller cancels. Results carry a preview and resource links (server/content.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from mcp.types import ContentBlock
from pydantic import ConfigDict, Field

from genai_mcp.server import apps
from genai_mcp.server.adapters import ToolPublisher, ToolSpec
from genai_mcp.server.annotations import WRITES_NEW
from genai_mcp.server.content import image_blocks, link, preview_of, store_image
from genai_mcp.server.limits import build_limits
from genai_mcp.server.state import ServerState
from genai_mcp.tools import diffusion
from genai_mcp.tools.errors import WorkCancelledError
from genai_mcp.tools.images import load_image
from genai_mcp.tools.progress import Progress
from genai_mcp.tools.vision.schemas import IMAGE_DOC

__all__ = ["DenoiseImageRequest", "logged_run", "register"]

logger = logging.getLogger(__name__)


class DenoiseImageRequest(diffusion.DenoiseRequest):
    """denoise_image's arguments: the image to noise and denoise, then how."""

    model_config = ConfigDict(extra="forbid")

    image: str = Field(min_length=1, description=f"The image to noise and denoise: {IMAGE_DOC}")


def sample_content(result: diffusion.SampleImagesResult) -> list[ContentBlock]:
    kind = "greyscale" if result.channels == 1 else "RGB"
    n = result.num_images
    links = [
        link(img, f"sample {i + 1} of {n}, {img.width}x{img.height} {kind}")
        for i, img in enumerate(result.images)
    ]
    return image_blocks(result.preview, links)


def denoise_content(result: diffusion.DenoiseImageResult) -> list[ContentBlock]:
    size = f"{result.width}x{result.height}"
    links = [
        link(result.input, f"the input as the model saw it ({size}, {result.channels} channel(s))"),
        link(result.noisy, f"the input noised to timestep {result.timestep}"),
        link(result.denoised, f"the denoised image after {result.steps} steps"),
    ]
    return image_blocks(result.preview, links)


SAMPLE = ToolSpec(
    name="sample_images",
    title="Sample images (diffusion)",
    description=(
        "Generate images from pure Gaussian noise with a diffusion model (any diffusers UNet2DModel + "
        "scheduler checkpoint; default {models.diffusion_brief}): one model call and "
        "one scheduler step per denoising step. At most {diffusion.max_num_images} images and "
        "{diffusion.max_steps} steps per call. Returns a preview grid, a resource link per full-size PNG, "
        "and the seed, scheduler, steps and elapsed time; progress per step when requested."
    ),
    request=diffusion.SampleRequest,
    result=diffusion.SampleImagesResult,
    annotations=WRITES_NEW,
    view=apps.IMAGES,
    content=sample_content,
)
DENOISE = ToolSpec(
    name="denoise_image",
    title="Noise and denoise an image (diffusion)",
    description=(
        "Noise an image to a chosen level with the scheduler's forward process (x_t = sqrt(alpha_bar_t) "
        "x_0 + sqrt(1 - alpha_bar_t) eps) and run the reverse process back from there. The image is "
        "resized to the model's sample size and converted to its channels first (1 = greyscale). Returns "
        "the input, noisy and denoised images (preview + resource links) and each one's MSE to the input."
    ),
    request=DenoiseImageRequest,
    result=diffusion.DenoiseImageResult,
    annotations=WRITES_NEW,
    view=apps.IMAGES,
    content=denoise_content,
)


def register(tools: ToolPublisher, state: ServerState) -> None:
    s, outputs = state.settings, state.outputs
    limits = build_limits(diffusion.DiffusionLimits, s)

    def sample_images(request: diffusion.SampleRequest, progress: Progress) -> diffusion.SampleImagesResult:
        with logged_run("sample_images"):
            samples = diffusion.sample_images(request, progress, limits=limits, models=state.models)
        stored = [store_image(outputs, im, "sample") for im in samples.images]
        preview = preview_of(samples.images, max_bytes=s.preview_max_bytes)
        return diffusion.SampleImagesResult(**samples.info.model_dump(), images=stored, preview=preview)

    def denoise_image(request: DenoiseImageRequest, progress: Progress) -> diffusion.DenoiseImageResult:
        picture = load_image(request.image, state.images)
        with logged_run("denoise_image"):
            out = diffusion.denoise_image(
                request, progress, image=picture, limits=limits, models=state.models
            )
        trio = (out.input, out.noisy, out.denoised)
        kinds = ("denoise-input", "denoise-noisy", "denoise-output")
        stored = [store_image(outputs, im, k) for im, k in zip(trio, kinds, strict=True)]
        preview = preview_of(trio, columns=3, max_bytes=s.preview_max_bytes)
        return diffusion.DenoiseImageResult(
            **out.info.model_dump(), input=stored[0], noisy=stored[1], denoised=stored[2], preview=preview
        )

    open_world = s.allow_downloads or s.allow_url_fetch
    tools.add_long(SAMPLE.opening(open_world), sample_images)
    tools.add_long(DENOISE.opening(open_world), denoise_image)


@contextmanager
def logged_run(tool: str) -> Iterator[None]:
    """A run the caller cancelled is logged with how far it got (the caller is gone)."""
    try:
        yield
    except WorkCancelledError as exc:
        logger.info("%s stopped: %s", tool, exc)
        raise
