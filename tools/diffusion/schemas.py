"""What the diffusion tools take and return. Import-light: pydantic only, no torch.

Requests are what a caller asks for; `SampleInfo` / `DenoiseInfo` describe a finished run; the
`...Result` models add where the PNGs were stored and are the MCP tools' output schemas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from genai_mcp.tools.limits import limit

__all__ = [
    "DEFAULT_MAX_PREVIEW_SIDE",
    "DENOISE_STEPS_DOC",
    "ETA_DOC",
    "MODEL_DOC",
    "NUM_IMAGES_DOC",
    "SAMPLE_STEPS_DOC",
    "SCHEDULERS",
    "SCHEDULER_DOC",
    "SEED_DOC",
    "STRENGTH_DOC",
    "TIMESTEP_DOC",
    "DenoiseImageResult",
    "DenoiseInfo",
    "DenoiseRequest",
    "DiffusionLimits",
    "PreviewInfo",
    "SampleImagesResult",
    "SampleInfo",
    "SampleRequest",
    "SchedulerName",
    "StoredImage",
]

SchedulerName = Literal["ddpm", "ddim", "dpm-solver", "unipc", "euler", "euler-ancestral"]

# name -> the diffusers class built from the checkpoint's own scheduler config (same betas, same
# prediction type), so every choice samples the distribution the model was trained on.
SCHEDULERS: dict[str, str] = {
    "ddpm": "DDPMScheduler",
    "ddim": "DDIMScheduler",
    "dpm-solver": "DPMSolverMultistepScheduler",
    "unipc": "UniPCMultistepScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler-ancestral": "EulerAncestralDiscreteScheduler",
}

DEFAULT_MAX_PREVIEW_SIDE = 512

# Parameter descriptions, shared with the MCP tools' signatures.
SEED_DOC = (
    "Random seed; the same seed, model and settings give identical images. Omitted: a fresh seed, "
    "reported in the result"
)
MODEL_DOC = (
    "A diffusers UNet2DModel checkpoint with its scheduler (a DDPMPipeline folder, the layout of "
    "google/ddpm-cifar10-32): a local directory or a Hugging Face id. Omitted: {models.diffusion_about}"
)
SCHEDULER_DOC = (
    "Sampler, built from the checkpoint's own noise schedule: ddpm (ancestral, the training chain), ddim "
    "(deterministic with eta 0), dpm-solver, unipc, euler, euler-ancestral"
)
ETA_DOC = "DDIM only: 0 is deterministic DDIM (the default), 1 adds DDPM-like noise at each step"
NUM_IMAGES_DOC = "Images to generate, in one batch"
SAMPLE_STEPS_DOC = (
    "Denoising steps (one model call and one scheduler step each); at most the model's training "
    "timesteps (1000 for the house model). DDIM is good at 50, DDPM needs all 1000"
)
STRENGTH_DOC = (
    "Noise level as a fraction of the noise schedule, in (0, 1]: 1 is pure noise. Give this or timestep; "
    "neither means 0.5"
)
TIMESTEP_DOC = (
    "Noise level as a training timestep t (0 = almost clean, T-1 = pure noise); the run starts at the "
    "sampler's nearest timestep at or below it. Give this or strength"
)
DENOISE_STEPS_DOC = "Denoising steps from the noise level back to a clean image (at most timestep + 1)"


@dataclass(frozen=True)
class DiffusionLimits:
    """Per-call limits; each refusal carries the key of the limit it hit."""

    max_steps: int = limit("diffusion.max_steps", 1000)  # denoising steps per call
    max_num_images: int = limit("diffusion.max_num_images", 64)  # images per sampling call


class _Sampling(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheduler: SchedulerName = Field("ddim", description=SCHEDULER_DOC)
    eta: float | None = Field(None, ge=0.0, le=1.0, description=ETA_DOC)
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description=SEED_DOC)
    model: str | None = Field(None, description=MODEL_DOC)

    @model_validator(mode="after")
    def _eta_only_for_ddim(self) -> _Sampling:
        if self.eta is not None and self.scheduler != "ddim":
            raise ValueError(f"eta applies only to the ddim scheduler, not {self.scheduler}")
        return self


class SampleRequest(_Sampling):
    """Draw `num_images` images from pure Gaussian noise with `steps` scheduler steps."""

    num_images: int = Field(4, ge=1, description=NUM_IMAGES_DOC)
    steps: int = Field(50, ge=1, description=SAMPLE_STEPS_DOC)


class DenoiseRequest(_Sampling):
    """Noise an image to one level with the scheduler's forward process, then denoise it back."""

    strength: float | None = Field(None, gt=0.0, le=1.0, description=STRENGTH_DOC)
    timestep: int | None = Field(None, ge=0, description=TIMESTEP_DOC)
    steps: int = Field(25, ge=1, description=DENOISE_STEPS_DOC)

    @model_validator(mode="after")
    def _one_noise_level(self) -> DenoiseRequest:
        if self.strength is not None and self.timestep is not None:
            raise ValueError("give strength or timestep, not both")
        return self


class SampleInfo(BaseModel):
    """How a batch of samples was made."""

    model: str = Field(description="The model that produced the images")
    scheduler: SchedulerName
    scheduler_class: str = Field(description="The diffusers scheduler class that ran")
    steps: int = Field(description="Scheduler steps run (= model evaluations)")
    eta: float | None = Field(description="DDIM eta used (ddim only)")
    seed: int = Field(description="The seed: pass it again to get the same images")
    num_images: int
    width: int = Field(description="Pixels")
    height: int = Field(description="Pixels")
    channels: int = Field(description="1: greyscale PNGs, 3: RGB PNGs")
    elapsed_seconds: float = Field(description="Wall time of the denoising loop, seconds")


class DenoiseInfo(BaseModel):
    """How an image was noised and denoised, and how far each result is from the input."""

    model: str
    scheduler: SchedulerName
    scheduler_class: str
    steps: int = Field(description="Denoising steps run")
    eta: float | None
    seed: int
    timestep: int = Field(
        description="Training timestep the image was noised to (where the reverse run starts)"
    )
    num_train_timesteps: int = Field(description="T, the model's number of training timesteps")
    strength: float = Field(description="(timestep + 1) / T")
    signal_fraction: float = Field(
        description="alpha_bar at the timestep: x_t = sqrt(alpha_bar) x_0 + sqrt(1 - alpha_bar) noise"
    )
    input_width: int = Field(description="The input image as received, pixels")
    input_height: int
    width: int = Field(description="The size the model works at; the input was resized to it")
    height: int
    channels: int = Field(description="1: the input was converted to greyscale; 3: RGB")
    mse_noisy: float = Field(
        description="Mean squared error of the noisy image to the input, pixels in [0, 1]"
    )
    mse_denoised: float = Field(
        description="Mean squared error of the denoised image to the input, pixels in [0, 1]"
    )
    elapsed_seconds: float = Field(description="Wall time of the denoising loop, seconds")


class StoredImage(BaseModel):
    """A full-size PNG the server keeps; read it with resources/read on `uri`."""

    uri: str
    name: str
    width: int
    height: int
    bytes: int


class PreviewInfo(BaseModel):
    """The inline preview image (a grid, upscaled with nearest-neighbour when tiny)."""

    width: int
    height: int
    bytes: int
    columns: int = Field(description="Images per row in the grid")


class SampleImagesResult(SampleInfo):
    images: list[StoredImage] = Field(description="One full-size PNG per sample, in batch order")
    preview: PreviewInfo


class DenoiseImageResult(DenoiseInfo):
    input: StoredImage = Field(description="The input as the model saw it (resized, channel-converted)")
    noisy: StoredImage
    denoised: StoredImage
    preview: PreviewInfo = Field(description="input | noisy | denoised, side by side")
