"""generate_image and edit_image on a Stable Diffusion-shaped checkpoint (random weights, the real
classes and config structure) and on the house LDM: sizes, seeds, schedulers, prompt tokens, progress,
cancellation within a step, limits and wrong models."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genai_mcp.tools import latent
from genai_mcp.tools.diffusion import SCHEDULERS
from genai_mcp.tools.errors import (
    InvalidInputError,
    LimitExceededError,
    ModelUnavailableError,
    WorkCancelledError,
)
from genai_mcp.tools.models import ModelCache
from tests.helpers.checkpoints import make_tiny_pipeline
from tests.helpers.sd_checkpoint import SD_IMAGE_SIDE, SD_MAX_TOKENS


@pytest.fixture(scope="module")
def cache() -> ModelCache:
    return ModelCache(device="cpu")


def generate(sd: str, cache: ModelCache, **fields: object) -> latent.Generated:
    request = latent.GenerateImageRequest(
        **{"prompt": "a photo of the digit three", "steps": 2, "model": sd, **fields}
    )
    return latent.generate_image(request, models=cache)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def test_default_size_is_the_checkpoints_own_and_seeds_fix_the_images(
    sd_checkpoint: str, cache: ModelCache
) -> None:
    steps: list[tuple[int, int | None]] = []
    request = latent.GenerateImageRequest(
        prompt="three", steps=3, seed=7, num_images=2, model=sd_checkpoint, scheduler="ddim"
    )
    out = latent.generate_image(
        request, lambda done, total, message=None: steps.append((done, total)), models=cache
    )
    info = out.info
    assert (info.width, info.height) == (SD_IMAGE_SIDE, SD_IMAGE_SIDE) and info.default_size == [64, 64]
    assert [im.size for im in out.images] == [(64, 64)] * 2 and all(im.mode == "RGB" for im in out.images)
    assert info.seeds == [7, 8] and info.pipeline_class == "StableDiffusionPipeline"
    assert info.scheduler_class == "DDIMScheduler" and info.steps == 3 and steps == [(1, 3), (2, 3), (3, 3)]
    assert info.model == str(Path(sd_checkpoint).resolve()) and info.elapsed_seconds > 0
    again = generate(sd_checkpoint, cache, prompt="three", steps=3, seed=7, scheduler="ddim")
    assert np.array_equal(pixels(again.images[0]), pixels(out.images[0]))  # seed 7 alone: image 0 again
    second = generate(sd_checkpoint, cache, prompt="three", steps=3, seed=8, scheduler="ddim")
    assert (
        np.abs(pixels(second.images[0]) - pixels(out.images[1])).max() <= 2
    )  # batch vs alone: float rounding
    assert not np.array_equal(pixels(out.images[0]), pixels(out.images[1]))


def test_concurrent_calls_share_the_weights_and_nothing_else(sd_checkpoint: str, cache: ModelCache) -> None:
    # Each call has its own pipeline object and scheduler over the cached components: two calls at once
    # with different schedulers give what each gives alone.
    kinds = ("ddim", "euler-ancestral")
    alone = {k: pixels(generate(sd_checkpoint, cache, steps=4, seed=3, scheduler=k).images[0]) for k in kinds}
    together: dict[str, np.ndarray] = {}

    def run(kind: str) -> None:
        together[kind] = pixels(generate(sd_checkpoint, cache, steps=4, seed=3, scheduler=kind).images[0])

    threads = [threading.Thread(target=run, args=(k,)) for k in kinds]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(np.array_equal(together[k], alone[k]) for k in kinds)
    assert type(cache.get("text-to-image", sd_checkpoint).model.scheduler).__name__ == "PNDMScheduler"


def test_other_sizes_and_every_scheduler(sd_checkpoint: str, cache: ModelCache) -> None:
    out = generate(sd_checkpoint, cache, width=32, height=48, seed=0)
    assert out.images[0].size == (32, 48) and (out.info.width, out.info.height) == (32, 48)
    for name in SCHEDULERS:
        info = generate(sd_checkpoint, cache, scheduler=name, seed=0).info
        assert info.scheduler_class == SCHEDULERS[name] and info.steps == 2
    with pytest.raises(InvalidInputError, match="width is 60; it must be a multiple of 8") as err:
        generate(sd_checkpoint, cache, width=60)
    assert "own size is 64x64" in str(err.value)


def test_a_prompt_longer_than_the_text_window_is_reported(sd_checkpoint: str, cache: ModelCache) -> None:
    short = generate(sd_checkpoint, cache, negative_prompt="blurry").info
    assert short.prompt_tokens is not None and short.prompt_tokens.dropped == 0
    assert (
        short.prompt_tokens.used == short.prompt_tokens.tokens == 8
        and short.prompt_tokens.max_tokens == SD_MAX_TOKENS
    )
    assert short.negative_prompt_tokens is not None and short.negative_prompt_tokens.dropped == 0
    words = " ".join(["three"] * 80) + " seven eight"
    long = generate(sd_checkpoint, cache, prompt=words).info.prompt_tokens
    assert long is not None and (long.tokens, long.used, long.dropped) == (84, 77, 7)
    assert long.dropped_text.endswith("three seven eight")


def test_cancelling_stops_within_a_step(sd_checkpoint: str, cache: ModelCache) -> None:
    seen: list[int] = []

    def progress(done: int, total: int | None, message: str | None = None) -> None:
        seen.append(done)
        if done == 2:
            raise WorkCancelledError(f"cancelled after {done} of {total} steps")

    request = latent.GenerateImageRequest(prompt="three", steps=50, model=sd_checkpoint)
    with pytest.raises(WorkCancelledError):
        latent.generate_image(request, progress, models=cache)
    assert seen == [1, 2]
    edit = latent.EditImageRequest(image="-", prompt="three", steps=40, strength=1.0, model=sd_checkpoint)
    seen.clear()
    with pytest.raises(WorkCancelledError):
        latent.edit_image(edit, progress, image=Image.new("RGB", (64, 64)), models=cache)
    assert seen == [1, 2]


def test_edit_resizes_the_input_and_runs_strength_times_steps(sd_checkpoint: str, cache: ModelCache) -> None:
    source = Image.new("RGB", (100, 70), (200, 30, 30))
    request = latent.EditImageRequest(
        image="-", prompt="seven", steps=10, strength=0.5, seed=2, model=sd_checkpoint, scheduler="ddim"
    )
    out = latent.edit_image(request, image=source, models=cache)
    assert out.input.size == (64, 64) == out.images[0].size
    info = out.info
    assert (info.input_width, info.input_height, info.width, info.height) == (100, 70, 64, 64)
    assert (
        info.pipeline_class == "StableDiffusionImg2ImgPipeline" and info.steps == 5 and info.strength == 0.5
    )
    again = latent.edit_image(request, image=source, models=cache)
    assert np.array_equal(pixels(again.images[0]), pixels(out.images[0]))
    sized = latent.edit_image(
        request.model_copy(update={"width": 32, "height": 32}), image=source, models=cache
    )
    assert sized.input.size == (32, 32) == sized.images[0].size
    tiny = request.model_copy(update={"steps": 1, "strength": 0.5})
    with pytest.raises(InvalidInputError, match=r"steps x strength = 1 x 0.5 runs no step; use steps >= 2"):
        latent.edit_image(tiny, image=source, models=cache)


def test_limits_name_their_setting(sd_checkpoint: str, cache: ModelCache) -> None:
    limits = latent.LatentLimits(max_steps=4, max_num_images=2, max_pixels=64 * 64, max_prompt_chars=20)
    cases: list[tuple[dict[str, object], str]] = [
        ({"steps": 5}, "latent.max_steps"),
        ({"num_images": 3}, "latent.max_num_images"),
        ({"width": 128}, "latent.max_pixels"),
        ({"prompt": "x" * 21}, "latent.max_prompt_chars"),
        ({"negative_prompt": "x" * 21}, "latent.max_prompt_chars"),
    ]
    for fields, key in cases:
        request = latent.GenerateImageRequest.model_validate(
            {"prompt": "three", "steps": 2, "model": sd_checkpoint, **fields}
        )
        with pytest.raises(LimitExceededError) as err:
            latent.generate_image(request, limits=limits, models=cache)
        assert err.value.setting == key, fields
    request = latent.GenerateImageRequest(prompt="three", steps=1001, model=sd_checkpoint)
    with pytest.raises(LimitExceededError, match="trained with 1000 timesteps") as err:
        latent.generate_image(request, limits=latent.LatentLimits(max_steps=5000), models=cache)
    assert err.value.setting is None


def test_a_model_that_is_not_a_text_to_image_pipeline_is_refused(tmp_path: Path, cache: ModelCache) -> None:
    ddpm = make_tiny_pipeline(tmp_path / "ddpm")
    with pytest.raises(
        ModelUnavailableError, match="a diffusers DDPMPipeline folder, not a checkpoint for text-to-image"
    ):
        generate(ddpm, cache)
    with pytest.raises(ModelUnavailableError, match="house/vit-digits is a image-classification model"):
        generate("house/vit-digits", cache)


def test_the_house_ldm_is_the_default_and_draws_at_its_own_size(cache: ModelCache) -> None:
    out = latent.generate_image(
        latent.GenerateImageRequest(prompt="a handwritten digit seven", steps=5, seed=0), models=cache
    )
    assert out.info.model == "house/ldm-digits" and out.images[0].size == (16, 16) == tuple(
        out.info.default_size
    )
    assert out.info.prompt_tokens is not None and out.info.prompt_tokens.max_tokens == 32
    edited = latent.edit_image(
        latent.EditImageRequest(image="-", prompt="a handwritten digit eight", steps=10, seed=0),
        image=out.images[0],
        models=cache,
    )
    assert edited.images[0].size == (16, 16) and edited.info.steps == 6
