"""genai_mcp.tools.diffusion: the sampling loop, forward noising, limits, previews, house-model quality.

Loop mechanics run on tiny random UNets saved in the DDPMPipeline layout (milliseconds a step);
quality runs on the house DDPM, scored by the house ViT.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from genai_mcp.tools.diffusion import (
    SCHEDULERS,
    DenoiseRequest,
    DiffusionLimits,
    SampleRequest,
    denoise_image,
    grid_preview,
    sample_images,
)
from genai_mcp.tools.errors import (
    InvalidInputError,
    LimitExceededError,
    ModelUnavailableError,
    WorkCancelledError,
)
from genai_mcp.tools.house import HOUSE_MODELS
from genai_mcp.tools.house.digits import digit_images
from tests.helpers.checkpoints import make_tiny_pipeline


@pytest.fixture(scope="module")
def grey(tmp_path_factory: pytest.TempPathFactory) -> str:
    return make_tiny_pipeline(tmp_path_factory.mktemp("grey"))


@pytest.fixture(scope="module")
def rgb(tmp_path_factory: pytest.TempPathFactory) -> str:
    return make_tiny_pipeline(tmp_path_factory.mktemp("rgb"), channels=3, size=12, train_timesteps=1000)


def test_same_seed_same_images_other_seed_other_images(grey: str) -> None:
    a = sample_images(SampleRequest(num_images=2, steps=4, seed=11, model=grey))
    b = sample_images(SampleRequest(num_images=2, steps=4, seed=11, model=grey))
    c = sample_images(SampleRequest(num_images=2, steps=4, seed=12, model=grey))
    assert [im.tobytes() for im in a.images] == [im.tobytes() for im in b.images]
    assert a.images[0].tobytes() != c.images[0].tobytes()
    assert a.images[0].tobytes() != a.images[1].tobytes()  # one batch, independent noise per image
    assert (a.images[0].mode, a.images[0].size) == ("L", (8, 8))
    info = a.info
    assert (info.seed, info.steps, info.num_images, info.channels, info.scheduler) == (11, 4, 2, 1, "ddim")
    assert info.scheduler_class == "DDIMScheduler" and info.eta == 0.0 and info.elapsed_seconds > 0
    assert sample_images(SampleRequest(num_images=1, steps=1, model=grey)).info.seed >= 0  # a fresh seed


@pytest.mark.parametrize("scheduler", sorted(SCHEDULERS))
def test_every_scheduler_reports_exactly_one_step_per_timestep(grey: str, scheduler: str) -> None:
    seen: list[tuple[int, int | None]] = []
    out = sample_images(
        SampleRequest(num_images=1, steps=5, scheduler=scheduler, seed=0, model=grey),  # type: ignore[arg-type]
        lambda done, total, message=None: seen.append((done, total)),
    )
    assert seen == [(i, 5) for i in range(1, 6)]
    assert out.info.scheduler_class == SCHEDULERS[scheduler] and out.info.steps == 5


def test_a_progress_that_raises_stops_the_loop_at_that_step(grey: str) -> None:
    calls: list[tuple[int, int | None, str | None]] = []

    def cancel_at_3(done: int, total: int | None, message: str | None = None) -> None:
        calls.append((done, total, message))
        if done == 3:
            raise WorkCancelledError(f"cancelled after {done} of {total} steps")

    with pytest.raises(WorkCancelledError):
        sample_images(SampleRequest(num_images=1, steps=40, seed=0, model=grey), cancel_at_3)
    assert [done for done, _, _ in calls] == [1, 2, 3]
    assert calls[0][1] == 40 and calls[0][2] is not None and calls[0][2].startswith("step 1/40 (t=")


def test_forward_noising_is_the_jump_to_timestep_formula(grey: str) -> None:
    """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, with eps the seed's first draw."""
    import numpy as np
    import torch
    from diffusers import DDPMScheduler

    image = digit_images("test")[0][0]  # 16x16 RGB
    out = denoise_image(
        DenoiseRequest(timestep=20, steps=21, scheduler="ddpm", seed=5, model=grey), image=image
    )
    info = out.info
    assert (info.timestep, info.steps, info.num_train_timesteps) == (20, 21, 50)
    assert (info.input_width, info.input_height, info.width, info.height, info.channels) == (16, 16, 8, 8, 1)
    assert out.input.mode == "L" and out.input.size == (8, 8)
    reference: Any = DDPMScheduler(num_train_timesteps=50, beta_schedule="squaredcos_cap_v2")
    alpha_bar = float(reference.alphas_cumprod[20])
    assert info.signal_fraction == pytest.approx(alpha_bar, abs=1e-6)
    x0 = torch.from_numpy(np.asarray(out.input, dtype=np.float32)) / 127.5 - 1
    eps = torch.randn((1, 1, 8, 8), generator=torch.Generator("cpu").manual_seed(5))[0, 0]
    expected = (math.sqrt(alpha_bar) * x0 + math.sqrt(1 - alpha_bar) * eps).clamp(-1, 1)
    got = torch.from_numpy(np.asarray(out.noisy, dtype=np.float32)) / 127.5 - 1
    assert (got - expected).abs().max().item() <= 1 / 127.5 + 1e-6  # 8-bit rounding only
    assert info.strength == pytest.approx(21 / 50)


def test_denoise_converts_to_the_models_channels_and_size(rgb: str) -> None:
    from PIL import Image

    image = Image.new("RGB", (40, 24), (200, 30, 60))
    seen: list[int] = []
    out = denoise_image(
        DenoiseRequest(strength=0.5, steps=6, seed=1, model=rgb),
        lambda d, t, m=None: seen.append(d),
        image=image,
    )
    assert seen == list(range(1, 7))
    assert out.input.mode == out.noisy.mode == out.denoised.mode == "RGB"
    assert out.input.size == out.denoised.size == (12, 12)
    assert (out.info.input_width, out.info.input_height, out.info.channels) == (40, 24, 3)
    assert 0 < out.info.timestep <= 499 and out.info.mse_noisy > 0
    # Every scheduler starts at or below the requested level and runs exactly the steps asked for.
    for name in sorted(SCHEDULERS):
        request = DenoiseRequest(timestep=300, steps=4, scheduler=name, seed=1, model=rgb)  # type: ignore[arg-type]
        info = denoise_image(request, image=image).info
        assert info.steps == 4 and 200 <= info.timestep <= 300, (name, info.timestep)


def test_limits_and_bad_requests_are_refused_with_the_limit_named(grey: str) -> None:
    limits = DiffusionLimits(max_steps=30, max_num_images=3)
    with pytest.raises(LimitExceededError, match=r"^num_images is 4, over the limit of 3$") as refused:
        sample_images(SampleRequest(num_images=4, steps=2, model=grey), limits=limits)
    assert refused.value.setting == "diffusion.max_num_images"
    with pytest.raises(LimitExceededError, match=r"^steps is 31, over the limit of 30$") as refused:
        sample_images(SampleRequest(num_images=1, steps=31, model=grey), limits=limits)
    assert refused.value.setting == "diffusion.max_steps"
    with pytest.raises(
        LimitExceededError, match=r"trained with 50 timesteps.* is 51, over the limit of 50"
    ) as refused:
        sample_images(SampleRequest(num_images=1, steps=51, model=grey))
    assert refused.value.setting is None  # the model's own bound: no setting raises it
    image = digit_images("test")[0][0]
    with pytest.raises(InvalidInputError, match="timesteps run from 0 to 49"):
        denoise_image(DenoiseRequest(timestep=50, steps=2, model=grey), image=image)
    with pytest.raises(InvalidInputError, match="t=9 leaves room for at most 10 steps"):
        denoise_image(DenoiseRequest(timestep=9, steps=11, scheduler="ddpm", model=grey), image=image)
    with pytest.raises(ValidationError, match="eta applies only to the ddim scheduler"):
        SampleRequest(scheduler="ddpm", eta=0.5)
    with pytest.raises(ValidationError, match="strength or timestep, not both"):
        DenoiseRequest(strength=0.5, timestep=10)
    with pytest.raises(ValidationError):
        SampleRequest(num_images=0)


def test_models_that_are_not_unconditional_image_unets_are_refused(tmp_path: Path) -> None:
    conditional = make_tiny_pipeline(tmp_path / "cond", num_class_embeds=10)
    with pytest.raises(ModelUnavailableError, match="class-conditional"):
        sample_images(SampleRequest(num_images=1, steps=1, model=conditional))
    vit = str(HOUSE_MODELS["house/vit-digits"].path)
    with pytest.raises(ModelUnavailableError, match="not a checkpoint for unconditional-image-generation"):
        sample_images(SampleRequest(num_images=1, steps=1, model=vit))


def test_preview_is_capped_in_pixels_and_bytes() -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    noisy = [Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)) for _ in range(16)]
    preview = grid_preview(noisy, max_side=512, max_bytes=30_000)
    shown = Image.open(io.BytesIO(preview.png))
    assert max(shown.size) <= 512 and len(preview.png) <= 30_000 and preview.columns == 4
    assert (shown.width, shown.height) == (preview.width, preview.height)
    tiny = [Image.new("L", (16, 16), 255) for _ in range(3)]
    small = grid_preview(tiny, max_side=512, max_bytes=100_000, columns=3)
    assert (small.width, small.height) == (5 * (3 * 16 + 2), 5 * 16)  # 1 px gaps, upscaled x5 towards 256


# ---- the house model (tools/house_models/ddpm-digits), scored by the house ViT


def vit_confidence(images: list[Any]) -> list[float]:
    """The house ViT's top-class probability for each image."""
    import torch

    from genai_mcp.tools.models import load_model

    vit = load_model("image-classification", "house/vit-digits")
    with torch.inference_mode():
        processor: Any = vit.processor
        inputs = processor(images=[im.convert("RGB") for im in images], return_tensors="pt")
        probs = vit.model(**inputs).logits.softmax(-1)
    return [float(p) for p in probs.max(-1).values]


def test_house_ddim_samples_look_like_digits_to_the_house_vit() -> None:
    """The house-model issue's bar: >= 50 % of DDIM-50 samples with ViT confidence >= 0.8 (128 samples
    scored 90 % when trained). The ViT is over-confident on noise too (20-55 % of Gaussian noise images
    pass), so the samples must also clear that floor by a wide margin."""
    import numpy as np
    from PIL import Image

    out = sample_images(SampleRequest(num_images=24, steps=50, scheduler="ddim", seed=0))
    assert out.info.model == "house/ddpm-digits" and out.images[0].size == (16, 16)
    confident = sum(c >= 0.8 for c in vit_confidence(out.images)) / len(out.images)
    rng = np.random.default_rng(0)
    noise = np.clip(rng.normal(127.5, 127.5, (24, 16, 16)), 0, 255).astype(np.uint8)
    floor = sum(c >= 0.8 for c in vit_confidence([Image.fromarray(p) for p in noise])) / len(noise)
    assert confident >= 0.5 and confident >= floor + 0.25, (confident, floor)


def test_house_denoising_brings_held_out_digits_closer_to_clean() -> None:
    images = digit_images("test")[0][:4]
    for i, image in enumerate(images):
        info = denoise_image(DenoiseRequest(strength=0.5, steps=15, seed=i), image=image).info
        assert info.mse_denoised < info.mse_noisy, (i, info.mse_denoised, info.mse_noisy)
