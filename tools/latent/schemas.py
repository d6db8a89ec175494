"""What the latent-diffusion and VAE tools take and return. Import-light: pydantic only, no torch.

Requests are what a caller asks for; `...Info` models describe a finished run; the `...Result`
models add where the PNGs were stored and are the MCP tools' output schemas. Latents are nested
lists (C, h, w) in the VAE's posterior space (before the checkpoint's scaling_factor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from genai_mcp.tools.diffusion.schemas import SEED_DOC, PreviewInfo, SchedulerName, StoredImage
from genai_mcp.tools.limits import limit
from genai_mcp.tools.vision.schemas import IMAGE_DOC

__all__ = [
    "ArithmeticInfo",
    "ArithmeticRequest",
    "ArithmeticResult",
    "DecodeLatentRequest",
    "DecodeResult",
    "EditImageRequest",
    "EditInfo",
    "EditResult",
    "EncodeImageRequest",
    "EncodeInfo",
    "EncodeResult",
    "GenerateImageRequest",
    "GenerateInfo",
    "GenerateResult",
    "InterpolateInfo",
    "InterpolateRequest",
    "InterpolateResult",
    "LatentLimits",
    "PromptTokens",
]

Latent = list[list[list[float]]]  # (C, h, w)

MODEL_DOC = (
    "A diffusers text-to-image pipeline (Stable Diffusion 1.x/2.x, SDXL, SD-Turbo and the like): a "
    "local folder with model_index.json or a Hugging Face id. Omitted: {models.latent_about}"
)
VAE_MODEL_DOC = (
    "The VAE to use: a pipeline folder or id as for generate_image (its vae/), or a folder or id of an "
    "AutoencoderKL alone. Omitted: the VAE of {models.latent_about}"
)
SCHEDULER_DOC = (
    "Sampler, built from the checkpoint's own noise schedule: ddpm, ddim, dpm-solver, unipc, euler, "
    "euler-ancestral. Omitted: the checkpoint's own scheduler"
)
SIZE_DOC = (
    "Pixels, a multiple of 8 (of the VAE's downsampling factor); omitted: the checkpoint's own size "
    "(the UNet's sample size times the VAE factor). Width x height at most {latent.max_pixels}"
)


@dataclass(frozen=True)
class LatentLimits:
    """Per-call limits; each refusal carries the key of the limit it hit."""

    max_steps: int = limit("latent.max_steps", 150)  # denoising steps per call
    max_num_images: int = limit("latent.max_num_images", 8)  # images per generate / edit call
    max_pixels: int = limit("latent.max_pixels", 1024 * 1024)  # width x height of one image
    max_prompt_chars: int = limit("latent.max_prompt_chars", 2000)  # prompt or negative prompt
    max_frames: int = limit("latent.max_frames", 32)  # interpolation frames, arithmetic strengths
    max_set_images: int = limit("latent.max_set_images", 16)  # images in each arithmetic example set


class _Prompted(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(
        min_length=1, description="What to draw (at most {latent.max_prompt_chars} characters)"
    )
    negative_prompt: str | None = Field(
        None, description="What to steer away from (classifier-free guidance's unconditional side)"
    )
    guidance_scale: float = Field(
        7.5, ge=0.0, le=50.0, description="Classifier-free guidance; 1 or less turns it off (SD-Turbo: 0)"
    )
    scheduler: SchedulerName | None = Field(None, description=SCHEDULER_DOC)
    num_images: int = Field(1, ge=1, description="Images per call (at most {latent.max_num_images})")
    width: int | None = Field(None, ge=8, description=SIZE_DOC)
    height: int | None = Field(None, ge=8, description=SIZE_DOC)
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description=SEED_DOC)
    model: str | None = Field(None, description=MODEL_DOC)


class GenerateImageRequest(_Prompted):
    """Text-to-image: draw `num_images` images of `prompt` from noise in `steps` steps."""

    steps: int = Field(25, ge=1, description="Denoising steps (at most {latent.max_steps})")


class EditImageRequest(_Prompted):
    """Image-to-image: noise `image` to `strength`, then denoise it towards `prompt`."""

    image: str = Field(min_length=1, description=f"The image to edit: {IMAGE_DOC}")
    strength: float = Field(
        0.6, gt=0.0, le=1.0, description="How much to change: the fraction of the schedule re-run (1: all)"
    )
    steps: int = Field(
        25,
        ge=1,
        description="Steps of the full schedule; about steps x strength run (at most {latent.max_steps})",
    )


class PromptTokens(BaseModel):
    """How much of a prompt the text encoder read: it reads at most `max_tokens` (with BOS and EOS)."""

    tokens: int = Field(description="Tokens of the whole prompt, BOS and EOS included")
    used: int = Field(description="Tokens the text encoder read")
    dropped: int = Field(description="Tokens cut off the end (0: the whole prompt was read)")
    max_tokens: int = Field(description="The text encoder's window (77 for Stable Diffusion)")
    dropped_text: str = Field(description="The words that were cut off, as the tokenizer decodes them")


class GenerateInfo(BaseModel):
    """How images were made."""

    model: str = Field(description="The pipeline that ran")
    pipeline_class: str = Field(description="The diffusers pipeline class that ran")
    scheduler_class: str = Field(description="The diffusers scheduler class that ran")
    steps: int = Field(description="Denoising steps run (= UNet evaluations per image and guidance side)")
    guidance_scale: float
    seeds: list[int] = Field(
        description="One seed per image: pass seed=seeds[i] with num_images=1 to redo image i"
    )
    num_images: int
    width: int = Field(description="Pixels")
    height: int = Field(description="Pixels")
    default_size: list[int] = Field(description="The checkpoint's own [width, height]")
    prompt_tokens: PromptTokens | None = Field(
        description="None: the pipeline has no tokenizer to count with"
    )
    negative_prompt_tokens: PromptTokens | None
    elapsed_seconds: float = Field(description="Wall time of the pipeline call, seconds")


class EditInfo(GenerateInfo):
    strength: float
    input_width: int = Field(description="The input image as received, pixels")
    input_height: int


class GenerateResult(GenerateInfo):
    images: list[StoredImage] = Field(description="One full-size PNG per image, in seed order")
    preview: PreviewInfo


class EditResult(EditInfo):
    input: StoredImage = Field(description="The input as the pipeline saw it (resized to width x height)")
    images: list[StoredImage]
    preview: PreviewInfo = Field(description="input, then the edited images")


# ---- the VAE


class _Vae(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, description=VAE_MODEL_DOC)


class EncodeImageRequest(_Vae):
    """Encode an image to the VAE's posterior q(z | x) = N(mean, exp(log_variance))."""

    image: str = Field(min_length=1, description=f"The image to encode: {IMAGE_DOC}")
    width: int | None = Field(
        None, ge=8, description="Resize to this many pixels first; omitted: the VAE's own size"
    )
    height: int | None = Field(None, ge=8, description="As width")


class DecodeLatentRequest(_Vae):
    """Decode a latent (C, h, w) to an image."""

    latent: Latent = Field(
        min_length=1,
        description="Nested lists [channel][row][column], e.g. encode_image's mean; posterior space unless scaled",
    )
    scaled: bool = Field(
        False, description="True: the latent is in diffusion space (posterior times the VAE's scaling_factor)"
    )


class InterpolateRequest(_Vae):
    """Frames between two images along a path in latent space (posterior means), decoded."""

    image_a: str = Field(min_length=1, description=f"The first frame's image: {IMAGE_DOC}")
    image_b: str = Field(min_length=1, description="The last frame's image, in the same forms")
    frames: int = Field(8, ge=2, description="Frames, both ends included (at most {latent.max_frames})")
    method: Literal["linear", "spherical"] = Field(
        "linear", description="linear: (1-t) a + t b; spherical: along the great circle (slerp)"
    )


class ArithmeticRequest(_Vae):
    """Attribute arithmetic: decode z + alpha (mean z(set_a) - mean z(set_b)) for each alpha."""

    image: str = Field(min_length=1, description=f"The image to move: {IMAGE_DOC}")
    set_a: list[str] = Field(
        min_length=1, description="Images with the attribute to add (at most {latent.max_set_images})"
    )
    set_b: list[str] = Field(
        min_length=1,
        description="Images without it, or with the one to remove (at most {latent.max_set_images})",
    )
    alphas: list[float] = Field(
        [0.0, 0.5, 1.0], min_length=1, description="Strengths, one frame each (at most {latent.max_frames})"
    )


class EncodeInfo(BaseModel):
    model: str = Field(description="The VAE's model id")
    shape: list[int] = Field(description="Latent shape [C, h, w]")
    scaling_factor: float = Field(description="Diffusion latents are posterior samples times this")
    mean: Latent
    log_variance: Latent
    kl_to_prior: float = Field(description="KL(q(z|x) || N(0, I)) in nats, summed over latent elements")
    kl_per_element: float
    width: int = Field(description="The size the image was encoded at, pixels")
    height: int
    input_width: int
    input_height: int
    reconstruction_mse: float = Field(
        description="MSE of decode(mean) to the encoded image, pixels in [0, 1]"
    )


class EncodeResult(EncodeInfo):
    input: StoredImage = Field(description="The image as encoded (resized)")
    reconstruction: StoredImage = Field(description="decode(mean)")
    preview: PreviewInfo


class DecodeResult(BaseModel):
    model: str
    shape: list[int]
    width: int
    height: int
    image: StoredImage
    preview: PreviewInfo


class InterpolateInfo(BaseModel):
    model: str
    method: Literal["linear", "spherical"]
    frames: int
    shape: list[int] = Field(description="Latent shape [C, h, w]")
    angle_degrees: float = Field(description="The angle between the two latents (spherical paths follow it)")
    fell_back_to_linear: bool = Field(
        description="True when the latents were too close to parallel for slerp"
    )
    width: int
    height: int


class InterpolateResult(InterpolateInfo):
    images: list[StoredImage] = Field(description="One PNG per frame, a to b")
    strip: StoredImage = Field(description="All frames in one row")
    preview: PreviewInfo


class ArithmeticInfo(BaseModel):
    model: str
    alphas: list[float]
    shape: list[int]
    direction_norm: float = Field(description="|mean z(set_a) - mean z(set_b)|, posterior space")
    set_a: int = Field(description="Images in set_a")
    set_b: int
    width: int
    height: int


class ArithmeticResult(ArithmeticInfo):
    images: list[StoredImage] = Field(description="One PNG per alpha")
    strip: StoredImage
    preview: PreviewInfo
