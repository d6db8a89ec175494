"""MCP tools for diffusion: sample_images and denoise_image.

Each runs its denoising loop in a worker thread (other requests are answered meanwhile), reports
one progress notification per scheduler step when the caller asked for progress, and stops within
one step when the caller cancels. A result carries the structured metadata (the output schema), a
JSON mirror of it as text, an inline PNG preview capped at 512 px a side and GENAI_MCP_PREVIEW_MAX_BYTES,
and a resource link per full-size PNG (genai-mcp://outputs/..., readable with resources/read).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ContentBlock, ImageContent, ResourceLink, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from genai_mcp.server.adapters import tool_errors
from genai_mcp.server.longwork import OnStep, run_with_progress
from genai_mcp.server.services import Services
from genai_mcp.server.vision_tools import image_policy
from genai_mcp.tools import diffusion
from genai_mcp.tools.diffusion.schemas import (
    DENOISE_STEPS_DOC,
    ETA_DOC,
    MODEL_DOC,
    NUM_IMAGES_DOC,
    SAMPLE_STEPS_DOC,
    SCHEDULER_DOC,
    SEED_DOC,
    STRENGTH_DOC,
    TIMESTEP_DOC,
    DenoiseImageResult,
    SampleImagesResult,
    SchedulerName,
)
from genai_mcp.tools.errors import CancelledError
from genai_mcp.tools.images import load_image
from genai_mcp.tools.outputs import StoredOutput
from genai_mcp.tools.vision.schemas import IMAGE_DOC

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["register"]

logger = logging.getLogger(__name__)

PREVIEW_MAX_SIDE = diffusion.DEFAULT_MAX_PREVIEW_SIDE
INPUT_IMAGE_DOC = f"The image to noise and denoise: {IMAGE_DOC}"
SEED_MAX = 2**63 - 1


def register(server: MCPServer[Any], services: Services) -> None:
    settings = services.settings
    policy = image_policy(services)
    limits = _limits(services)
    # Writes new files (not read-only) but never replaces one (not destructive); a call without a seed
    # draws a fresh one, so repeating it does not repeat the result.
    annotations = ToolAnnotations(
        read_only_hint=False,
        destructive_hint=False,
        idempotent_hint=False,
        open_world_hint=settings.allow_downloads or settings.allow_url_fetch,
    )

    async def sample_images(
        ctx: Context,
        num_images: Annotated[int, Field(ge=1, description=NUM_IMAGES_DOC)] = 4,
        steps: Annotated[int, Field(ge=1, description=SAMPLE_STEPS_DOC)] = 50,
        scheduler: Annotated[SchedulerName, Field(description=SCHEDULER_DOC)] = "ddim",
        eta: Annotated[float | None, Field(ge=0.0, le=1.0, description=ETA_DOC)] = None,
        seed: Annotated[int | None, Field(ge=0, le=SEED_MAX, description=SEED_DOC)] = None,
        model: Annotated[str | None, Field(description=MODEL_DOC)] = None,
    ) -> Annotated[CallToolResult, SampleImagesResult]:
        with tool_errors():
            request = diffusion.SampleRequest(
                num_images=num_images, steps=steps, scheduler=scheduler, eta=eta, seed=seed, model=model
            )

            def work(on_step: OnStep) -> tuple[SampleImagesResult, diffusion.Preview]:
                samples = _logged_cancel(
                    "sample_images", diffusion.sample_images, request, on_step, limits=limits
                )
                stored = [_image(services.outputs.save_png(im, "sample"), im) for im in samples.images]
                preview = diffusion.grid_preview(
                    samples.images, max_side=PREVIEW_MAX_SIDE, max_bytes=settings.preview_max_bytes
                )
                info = samples.info.model_dump()
                return SampleImagesResult(**info, images=stored, preview=_preview_info(preview)), preview

            result, preview = await run_with_progress(ctx, work)
        kind = "greyscale" if result.channels == 1 else "RGB"
        links = [
            _link(img, f"sample {i + 1} of {result.num_images}, {img.width}x{img.height} {kind}")
            for i, img in enumerate(result.images)
        ]
        return _call_result(result, preview, links)

    async def denoise_image(
        ctx: Context,
        image: Annotated[str, Field(min_length=1, description=INPUT_IMAGE_DOC)],
        strength: Annotated[float | None, Field(gt=0.0, le=1.0, description=STRENGTH_DOC)] = None,
        timestep: Annotated[int | None, Field(ge=0, description=TIMESTEP_DOC)] = None,
        steps: Annotated[int, Field(ge=1, description=DENOISE_STEPS_DOC)] = 25,
        scheduler: Annotated[SchedulerName, Field(description=SCHEDULER_DOC)] = "ddim",
        eta: Annotated[float | None, Field(ge=0.0, le=1.0, description=ETA_DOC)] = None,
        seed: Annotated[int | None, Field(ge=0, le=SEED_MAX, description=SEED_DOC)] = None,
        model: Annotated[str | None, Field(description=MODEL_DOC)] = None,
    ) -> Annotated[CallToolResult, DenoiseImageResult]:
        with tool_errors():
            request = diffusion.DenoiseRequest(
                strength=strength,
                timestep=timestep,
                steps=steps,
                scheduler=scheduler,
                eta=eta,
                seed=seed,
                model=model,
            )

            def work(on_step: OnStep) -> tuple[DenoiseImageResult, diffusion.Preview]:
                picture = load_image(image, policy)
                out = _logged_cancel(
                    "denoise_image", diffusion.denoise_image, request, picture, on_step, limits=limits
                )
                trio = (out.input, out.noisy, out.denoised)
                kinds = ("denoise-input", "denoise-noisy", "denoise-output")
                stored = [
                    _image(services.outputs.save_png(im, k), im) for im, k in zip(trio, kinds, strict=True)
                ]
                preview = diffusion.grid_preview(
                    trio, columns=3, max_side=PREVIEW_MAX_SIDE, max_bytes=settings.preview_max_bytes
                )
                result = DenoiseImageResult(
                    **out.info.model_dump(),
                    input=stored[0],
                    noisy=stored[1],
                    denoised=stored[2],
                    preview=_preview_info(preview),
                )
                return result, preview

            result, preview = await run_with_progress(ctx, work)
        size = f"{result.width}x{result.height}"
        links = [
            _link(result.input, f"the input as the model saw it ({size}, {result.channels} channel(s))"),
            _link(result.noisy, f"the input noised to timestep {result.timestep}"),
            _link(result.denoised, f"the denoised image after {result.steps} steps"),
        ]
        return _call_result(result, preview, links)

    server.add_tool(
        sample_images,
        name="sample_images",
        title="Sample images (diffusion)",
        description=(
            "Generate images from pure Gaussian noise with a diffusion model (any diffusers UNet2DModel + "
            "scheduler checkpoint; default house/ddpm-digits, 16x16 handwritten digits): one model call and "
            f"one scheduler step per denoising step. At most {limits.max_num_images} images and "
            f"{limits.max_steps} steps per call. Returns a preview grid, a resource link per full-size PNG, "
            "and the seed, scheduler, steps and elapsed time; progress per step when requested."
        ),
        annotations=annotations,
    )
    server.add_tool(
        denoise_image,
        name="denoise_image",
        title="Noise and denoise an image (diffusion)",
        description=(
            "Noise an image to a chosen level with the scheduler's forward process (x_t = sqrt(alpha_bar_t) "
            "x_0 + sqrt(1 - alpha_bar_t) eps) and run the reverse process back from there. The image is "
            "resized to the model's sample size and converted to its channels first (1 = greyscale). Returns "
            "the input, noisy and denoised images (preview + resource links) and each one's MSE to the input."
        ),
        annotations=annotations,
    )


def _limits(services: Services) -> diffusion.DiffusionLimits:
    settings = services.settings
    # Every image of one call must survive the output store's pruning until the caller reads it.
    if settings.outputs_max_files < settings.max_num_images:
        max_images, images_setting = settings.outputs_max_files, "GENAI_MCP_OUTPUTS_MAX_FILES"
    else:
        max_images, images_setting = settings.max_num_images, "GENAI_MCP_MAX_NUM_IMAGES"
    return diffusion.DiffusionLimits(
        max_steps=settings.max_diffusion_steps,
        max_num_images=max_images,
        steps_setting="GENAI_MCP_MAX_DIFFUSION_STEPS",
        num_images_setting=images_setting,
    )


def _logged_cancel(tool: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call `fn`; a run the caller cancelled is logged with how far it got (the caller is gone)."""
    try:
        return fn(*args, **kwargs)
    except CancelledError as exc:
        logger.info("%s stopped: %s", tool, exc)
        raise


def _image(stored: StoredOutput, image: Image) -> diffusion.StoredImage:
    return diffusion.StoredImage(
        uri=stored.uri, name=stored.name, width=image.width, height=image.height, bytes=stored.nbytes
    )


def _preview_info(preview: diffusion.Preview) -> diffusion.PreviewInfo:
    return diffusion.PreviewInfo(
        width=preview.width, height=preview.height, bytes=len(preview.png), columns=preview.columns
    )


def _link(image: diffusion.StoredImage, description: str) -> ResourceLink:
    return ResourceLink(
        type="resource_link",
        uri=image.uri,
        name=image.name,
        description=description,
        mime_type="image/png",
        size=image.bytes,
    )


def _call_result(
    structured: BaseModel, preview: diffusion.Preview, links: Sequence[ResourceLink]
) -> CallToolResult:
    data = structured.model_dump(mode="json")
    content: list[ContentBlock] = [
        TextContent(type="text", text=json.dumps(data, indent=2)),
        ImageContent(type="image", data=base64.b64encode(preview.png).decode("ascii"), mime_type="image/png"),
        *links,
    ]
    return CallToolResult(content=content, structured_content=data)
