"""MCP tools for latent diffusion and VAE latent spaces: generate_image, edit_image, encode_image,
decode_latent, interpolate_images and latent_arithmetic.

The two pipeline tools and the two frame tools run in a worker thread with progress per step (per
decoded frame) and stop within one step when the caller cancels; encode and decode are one VAE
pass each. Results carry a capped preview and resource links to full-size PNGs (server/content.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mcp.types import ContentBlock

from genai_mcp.server.adapters import ToolPublisher, ToolSpec
from genai_mcp.server.annotations import WRITES_NEW
from genai_mcp.server.content import image_blocks, link, preview_of, store_image
from genai_mcp.server.diffusion_tools import logged_run
from genai_mcp.server.limits import build_limits
from genai_mcp.server.state import ServerState
from genai_mcp.tools import latent
from genai_mcp.tools.diffusion import PreviewInfo, StoredImage
from genai_mcp.tools.images import load_image
from genai_mcp.tools.progress import Progress

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["register"]


def _generate_content(result: latent.GenerateResult) -> list[ContentBlock]:
    n = result.num_images
    links = [
        link(im, f"image {i + 1} of {n}, seed {seed}, {im.width}x{im.height}")
        for i, (im, seed) in enumerate(zip(result.images, result.seeds, strict=True))
    ]
    return image_blocks(result.preview, links)


def _edit_content(result: latent.EditResult) -> list[ContentBlock]:
    links = [link(result.input, f"the input resized to {result.width}x{result.height}")]
    links += [
        link(im, f"edited image {i + 1}, seed {s}")
        for i, (im, s) in enumerate(zip(result.images, result.seeds, strict=True))
    ]
    return image_blocks(result.preview, links)


def _encode_content(result: latent.EncodeResult) -> list[ContentBlock]:
    return image_blocks(
        result.preview,
        [link(result.input, "the image as encoded"), link(result.reconstruction, "decode(mean)")],
    )


def _decode_content(result: latent.DecodeResult) -> list[ContentBlock]:
    return image_blocks(
        result.preview, [link(result.image, f"the decoded latent, {result.width}x{result.height}")]
    )


def _frames_content(result: latent.InterpolateResult | latent.ArithmeticResult) -> list[ContentBlock]:
    n = len(result.images)
    links = [link(result.strip, f"all {n} frames in one row")]
    links += [link(im, f"frame {i + 1} of {n}") for i, im in enumerate(result.images)]
    return image_blocks(result.preview, links)


GENERATE = ToolSpec(
    name="generate_image",
    title="Generate images from text (latent diffusion)",
    description=(
        "Text-to-image with a diffusers latent-diffusion pipeline (Stable Diffusion 1.x/2.x, SDXL, SD-Turbo, "
        "...; default {models.latent}): the prompt's text embeddings steer a UNet that denoises a latent, "
        "which the VAE decodes. Size defaults to the checkpoint's own. At most {latent.max_num_images} images, "
        "{latent.max_steps} steps and {latent.max_pixels} pixels per image. Returns a preview, a resource link "
        "per full-size PNG, the seeds, the size, how many prompt tokens the text encoder read (and dropped), "
        "and the time; progress per step when requested."
    ),
    request=latent.GenerateImageRequest,
    result=latent.GenerateResult,
    annotations=WRITES_NEW,
    content=_generate_content,
)
EDIT = ToolSpec(
    name="edit_image",
    title="Edit an image with a prompt (image-to-image)",
    description=(
        "Image-to-image on the same pipelines as generate_image: the image (resized to width x height, default "
        "the checkpoint's own size) is encoded, noised to `strength` and denoised towards the prompt. Returns "
        "the input as used and the edited images (preview + resource links) with their sizes and seeds."
    ),
    request=latent.EditImageRequest,
    result=latent.EditResult,
    annotations=WRITES_NEW,
    content=_edit_content,
)
ENCODE = ToolSpec(
    name="encode_image",
    title="Encode an image to a VAE latent",
    description=(
        "Encode an image with a VAE (the one inside any Stable Diffusion-style checkpoint, or an AutoencoderKL "
        "alone): the posterior's mean and log-variance as [C][h][w] lists, the shape, the KL to N(0, I), and "
        "the reconstruction decode(mean) with its MSE. Pass the mean to decode_latent to get the image back."
    ),
    request=latent.EncodeImageRequest,
    result=latent.EncodeResult,
    annotations=WRITES_NEW,
    content=_encode_content,
)
DECODE = ToolSpec(
    name="decode_latent",
    title="Decode a VAE latent to an image",
    description="Decode a [C][h][w] latent (e.g. encode_image's mean, edited) with a VAE to a PNG.",
    request=latent.DecodeLatentRequest,
    result=latent.DecodeResult,
    annotations=WRITES_NEW,
    content=_decode_content,
)
INTERPOLATE = ToolSpec(
    name="interpolate_images",
    title="Interpolate between two images in latent space",
    description=(
        "Encode two images with a VAE and decode points between their latents (posterior means), linearly or "
        "along the great circle (spherical, slerp): {latent.max_frames} frames at most, both ends included. "
        "Returns the frames as one strip and one PNG each; progress per frame."
    ),
    request=latent.InterpolateRequest,
    result=latent.InterpolateResult,
    annotations=WRITES_NEW,
    content=_frames_content,
)
ARITHMETIC = ToolSpec(
    name="latent_arithmetic",
    title="Attribute arithmetic in latent space",
    description=(
        "Move an image's latent along an attribute direction learnt from examples and decode: "
        "z + alpha (mean z(set_a) - mean z(set_b)) for each alpha (posterior means of a VAE), e.g. set_a "
        "images of an 8, set_b of a 3. Returns one frame per alpha as a strip and one PNG each."
    ),
    request=latent.ArithmeticRequest,
    result=latent.ArithmeticResult,
    annotations=WRITES_NEW,
    content=_frames_content,
)


def register(tools: ToolPublisher, state: ServerState) -> None:
    s, outputs, models, policy = state.settings, state.outputs, state.models, state.images
    limits = build_limits(latent.LatentLimits, s)

    def preview(images: Sequence[Image], columns: int | None = None) -> PreviewInfo:
        return preview_of(images, columns=columns, max_bytes=s.preview_max_bytes)

    def stored(images: Sequence[Image], kind: str) -> list[StoredImage]:
        return [store_image(outputs, im, kind) for im in images]

    def generate_image(request: latent.GenerateImageRequest, progress: Progress) -> latent.GenerateResult:
        with logged_run("generate_image"):
            out = latent.generate_image(request, progress, limits=limits, models=models)
        return latent.GenerateResult(
            **out.info.model_dump(), images=stored(out.images, "latent"), preview=preview(out.images)
        )

    def edit_image(request: latent.EditImageRequest, progress: Progress) -> latent.EditResult:
        picture = load_image(request.image, policy)
        with logged_run("edit_image"):
            out = latent.edit_image(request, progress, image=picture, limits=limits, models=models)
        return latent.EditResult(
            **out.info.model_dump(),
            input=store_image(outputs, out.input, "edit-input"),
            images=stored(out.images, "edit-output"),
            preview=preview([out.input, *out.images], columns=1 + len(out.images)),
        )

    def encode_image(request: latent.EncodeImageRequest) -> latent.EncodeResult:
        picture = load_image(request.image, policy)
        out = latent.encode_image(request, image=picture, limits=limits, models=models)
        pair = [out.input, out.reconstruction]
        first, second = (
            store_image(outputs, out.input, "vae-input"),
            store_image(outputs, out.reconstruction, "vae-output"),
        )
        return latent.EncodeResult(
            **out.info.model_dump(), input=first, reconstruction=second, preview=preview(pair, columns=2)
        )

    def decode_latent(request: latent.DecodeLatentRequest) -> latent.DecodeResult:
        out = latent.decode_latent(request, limits=limits, models=models)
        return latent.DecodeResult(
            model=out.model,
            shape=out.shape,
            width=out.image.width,
            height=out.image.height,
            image=store_image(outputs, out.image, "vae-decoded"),
            preview=preview([out.image]),
        )

    def frames(out: latent.Frames[Any]) -> dict[str, Any]:
        return {
            **out.info.model_dump(),
            "images": stored(out.images, "latent-frame"),
            "strip": store_image(outputs, out.strip, "latent-strip"),
            "preview": preview(out.images, columns=len(out.images)),
        }

    def interpolate_images(
        request: latent.InterpolateRequest, progress: Progress
    ) -> latent.InterpolateResult:
        pair = (load_image(request.image_a, policy), load_image(request.image_b, policy))
        with logged_run("interpolate_images"):
            out = latent.interpolate_images(request, progress, images=pair, limits=limits, models=models)
        return latent.InterpolateResult(**frames(out))

    def latent_arithmetic(request: latent.ArithmeticRequest, progress: Progress) -> latent.ArithmeticResult:
        latent.check_arithmetic(request, limits)  # before any image is decoded
        base = load_image(request.image, policy)
        set_a = [load_image(x, policy) for x in request.set_a]
        set_b = [load_image(x, policy) for x in request.set_b]
        with logged_run("latent_arithmetic"):
            out = latent.latent_arithmetic(
                request, progress, image=base, set_a=set_a, set_b=set_b, limits=limits, models=models
            )
        return latent.ArithmeticResult(**frames(out))

    # Every tool may load a hub checkpoint; those taking images may also fetch them from URLs.
    takes_images = s.allow_downloads or s.allow_url_fetch
    tools.add_long(GENERATE.opening(s.allow_downloads), generate_image)
    tools.add_long(EDIT.opening(takes_images), edit_image)
    tools.add(ENCODE.opening(takes_images), encode_image)
    tools.add(DECODE.opening(s.allow_downloads), decode_latent)
    tools.add_long(INTERPOLATE.opening(takes_images), interpolate_images)
    tools.add_long(ARITHMETIC.opening(takes_images), latent_arithmetic)
