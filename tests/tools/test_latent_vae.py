"""The VAE tools on the VAE inside a Stable Diffusion-shaped checkpoint, on an AutoencoderKL folder
alone and on the house LDM's VAE: posterior, KL, decode, lerp / slerp paths, attribute arithmetic,
progress, limits and wrong inputs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from genai_mcp.tools import latent
from genai_mcp.tools.errors import InvalidInputError, LimitExceededError, ModelUnavailableError
from genai_mcp.tools.house.digits import digit_images
from genai_mcp.tools.latent.vae import lerp, slerp
from genai_mcp.tools.models import ModelCache
from tests.helpers.checkpoints import make_tiny_pipeline


@pytest.fixture(scope="module")
def cache() -> ModelCache:
    return ModelCache(device="cpu")


def picture(seed: int, size: int = 64) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


def encode(model: str | None, image: Image.Image, cache: ModelCache, **fields: object) -> latent.Encoded:
    return latent.encode_image(
        latent.EncodeImageRequest(image="-", model=model, **fields), image=image, models=cache
    )


def test_encode_gives_the_posterior_and_its_kl_and_decode_inverts_it(
    sd_checkpoint: str, cache: ModelCache
) -> None:
    from diffusers import AutoencoderKL

    out = encode(sd_checkpoint, picture(0, 100), cache)
    info = out.info
    assert info.shape == [4, 8, 8] and (info.width, info.height, info.input_width) == (64, 64, 100)
    assert np.asarray(info.mean).shape == (4, 8, 8) == np.asarray(info.log_variance).shape
    assert info.scaling_factor == pytest.approx(0.18215) and out.reconstruction.size == (64, 64)
    # The KL, computed here with diffusers' own posterior on the image as encoded.
    vae = AutoencoderKL.from_pretrained(sd_checkpoint, subfolder="vae", local_files_only=True).eval()
    x = torch.from_numpy(np.asarray(out.input, dtype=np.float32)).permute(2, 0, 1)[None] / 127.5 - 1
    with torch.inference_mode():
        posterior = vae.encode(x).latent_dist
    assert info.kl_to_prior == pytest.approx(float(posterior.kl()[0]), rel=1e-4)
    assert info.kl_per_element == pytest.approx(info.kl_to_prior / 256, rel=1e-3)
    assert np.allclose(info.mean, posterior.mean[0].numpy(), atol=1e-4)
    assert info.reconstruction_mse > 0

    decoded = latent.decode_latent(
        latent.DecodeLatentRequest(latent=info.mean, model=sd_checkpoint), models=cache
    )
    assert decoded.shape == [4, 8, 8] and decoded.image.size == (64, 64)
    assert np.abs(np.asarray(decoded.image, np.int16) - np.asarray(out.reconstruction, np.int16)).max() <= 1
    scaled = (np.asarray(info.mean) * info.scaling_factor).tolist()
    again = latent.decode_latent(
        latent.DecodeLatentRequest(latent=scaled, scaled=True, model=sd_checkpoint), models=cache
    )
    assert np.abs(np.asarray(again.image, np.int16) - np.asarray(decoded.image, np.int16)).max() <= 1
    assert encode(sd_checkpoint, picture(0), cache, width=32, height=16).info.shape == [4, 2, 4]


def test_an_autoencoder_folder_alone_works_and_other_folders_are_refused(
    sd_checkpoint: str, cache: ModelCache, tmp_path: Path
) -> None:
    from diffusers import AutoencoderKL

    alone = tmp_path / "vae-alone"
    AutoencoderKL.from_pretrained(sd_checkpoint, subfolder="vae", local_files_only=True).save_pretrained(
        alone
    )
    a, b = encode(str(alone), picture(1), cache).info, encode(sd_checkpoint, picture(1), cache).info
    assert a.mean == b.mean and a.model == str(alone.resolve())
    with pytest.raises(ModelUnavailableError, match="has no AutoencoderKL"):
        encode(make_tiny_pipeline(tmp_path / "ddpm"), picture(1), cache)


def test_interpolation_runs_from_a_to_b_linearly_or_on_the_great_circle(
    sd_checkpoint: str, cache: ModelCache
) -> None:
    a, b = picture(2), picture(3)
    ends = [
        latent.decode_latent(
            latent.DecodeLatentRequest(
                latent=encode(sd_checkpoint, im, cache).info.mean, model=sd_checkpoint
            ),
            models=cache,
        ).image
        for im in (a, b)
    ]
    steps: list[int] = []
    for method in ("linear", "spherical"):
        steps.clear()
        request = latent.InterpolateRequest(
            image_a="-", image_b="-", frames=5, method=method, model=sd_checkpoint
        )
        out = latent.interpolate_images(
            request, lambda done, total, m=None: steps.append(done), images=(a, b), models=cache
        )
        assert len(out.images) == 5 and steps == [1, 2, 3, 4, 5] and out.strip.size == (5 * 65 - 1, 64)
        assert out.info.angle_degrees > 0 and not out.info.fell_back_to_linear
        for frame, end in zip((out.images[0], out.images[-1]), ends, strict=True):
            assert np.abs(np.asarray(frame, np.int16) - np.asarray(end, np.int16)).max() <= 1
        assert out.strip.crop((65, 0, 129, 64)).tobytes() == out.images[1].tobytes()
    same = latent.InterpolateRequest(
        image_a="-", image_b="-", frames=3, method="spherical", model=sd_checkpoint
    )
    assert latent.interpolate_images(same, images=(a, a), models=cache).info.fell_back_to_linear


def test_lerp_and_slerp() -> None:
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])
    assert torch.allclose(lerp(a, b, 0.25), torch.tensor([0.75, 0.5]))
    mid = slerp(a, b, 0.5)  # w = 90 degrees: sin(45)/sin(90) of each
    assert torch.allclose(mid, torch.tensor([math.sqrt(0.5), 2 * math.sqrt(0.5)]))
    assert torch.allclose(slerp(a, b, 0.0), a) and torch.allclose(slerp(a, b, 1.0), b)


def test_arithmetic_moves_along_the_difference_of_the_set_means(
    sd_checkpoint: str, cache: ModelCache
) -> None:
    base, set_a, set_b = picture(4), [picture(5), picture(6)], [picture(7)]
    request = latent.ArithmeticRequest(
        image="-", set_a=["-"] * 2, set_b=["-"], alphas=[0.0, 1.0], model=sd_checkpoint
    )
    out = latent.latent_arithmetic(request, image=base, set_a=set_a, set_b=set_b, models=cache)
    means = {
        i: np.asarray(encode(sd_checkpoint, im, cache).info.mean)
        for i, im in enumerate([base, *set_a, *set_b])
    }
    direction = (means[1] + means[2]) / 2 - means[3]
    assert out.info.direction_norm == pytest.approx(float(np.linalg.norm(direction)), rel=1e-3)
    assert (out.info.set_a, out.info.set_b, len(out.images)) == (2, 1, 2)
    moved = latent.decode_latent(
        latent.DecodeLatentRequest(latent=(means[0] + direction).tolist(), model=sd_checkpoint), models=cache
    )
    assert np.abs(np.asarray(out.images[1], np.int16) - np.asarray(moved.image, np.int16)).max() <= 1
    none = latent.latent_arithmetic(request, image=base, set_a=set_b, set_b=set_b, models=cache)
    assert none.info.direction_norm == 0 and none.images[0].tobytes() == none.images[1].tobytes()


def test_bad_latents_and_limits_are_refused(sd_checkpoint: str, cache: ModelCache) -> None:
    limits = latent.LatentLimits(max_frames=3, max_set_images=1, max_pixels=64 * 64)

    def decode(values: list[list[list[float]]]) -> None:
        latent.decode_latent(
            latent.DecodeLatentRequest(latent=values, model=sd_checkpoint), limits=limits, models=cache
        )

    with pytest.raises(InvalidInputError, match=r"has 2 channels; .* has 4"):
        decode([[[0.0]]] * 2)
    with pytest.raises(InvalidInputError, match="equal lengths"):
        decode([[[0.0, 1.0]], [[0.0]], [[0.0]], [[0.0]]])
    with pytest.raises(InvalidInputError, match="NaN or infinite"):
        decode([[[float("nan")]]] * 4)
    with pytest.raises(LimitExceededError) as err:
        decode([[[0.0] * 16] * 16] * 4)
    assert err.value.setting == "latent.max_pixels"
    with pytest.raises(InvalidInputError, match="width is 20; it must be a multiple of 8"):
        encode(sd_checkpoint, picture(0), cache, width=20)
    frames = latent.InterpolateRequest(image_a="-", image_b="-", frames=4, model=sd_checkpoint)
    with pytest.raises(LimitExceededError) as err:
        latent.interpolate_images(frames, images=(picture(0), picture(1)), limits=limits, models=cache)
    assert err.value.setting == "latent.max_frames"
    sets = latent.ArithmeticRequest(image="-", set_a=["-", "-"], set_b=["-"], model=sd_checkpoint)
    with pytest.raises(LimitExceededError) as err:
        latent.latent_arithmetic(
            sets, image=picture(0), set_a=[picture(0)] * 2, set_b=[picture(1)], limits=limits, models=cache
        )
    assert err.value.setting == "latent.max_set_images"


def test_the_house_ldms_vae_is_the_default(cache: ModelCache) -> None:
    digits = digit_images("test")[0][:2]
    out = encode(None, digits[0], cache)
    assert out.info.model == "house/ldm-digits" and out.info.shape == [4, 4, 4]
    assert out.input.size == out.reconstruction.size == (16, 16)
    a, b = (np.asarray(im, np.float64) / 255 for im in (out.input, out.reconstruction))
    assert out.info.reconstruction_mse == pytest.approx(float(np.mean((a - b) ** 2)), abs=1e-6)
    assert out.info.reconstruction_mse < 0.01  # the shipped VAE's (its card: 0.00265 on [-1, 1], i.e. 0.0007)


def test_the_house_latent_space_morphs_one_digit_into_another(cache: ModelCache) -> None:
    # What the house ViT reads in the decoded frames: the path from a 3 to an 8 starts as a 3 and
    # ends as an 8, and a 3 moved by twice (mean 8s - mean 3s) reads as an 8.
    images, labels = digit_images("test")
    threes = [im for im, label in zip(images, labels, strict=True) if label == 3][:5]
    eights = [im for im, label in zip(images, labels, strict=True) if label == 8][:4]
    vit = cache.get("image-classification", "house/vit-digits")
    processor: Any = vit.processor

    def read(frames: list[Image.Image]) -> list[int]:
        inputs = processor(images=[im.convert("RGB") for im in frames], return_tensors="pt")
        with torch.inference_mode():
            return [int(i) for i in vit.model(**inputs).logits.argmax(-1)]

    path = latent.InterpolateRequest(image_a="-", image_b="-", frames=6)
    labels_along = read(latent.interpolate_images(path, images=(threes[0], eights[0]), models=cache).images)
    assert (labels_along[0], labels_along[-1]) == (3, 8), labels_along
    request = latent.ArithmeticRequest(image="-", set_a=["-"] * 4, set_b=["-"] * 4, alphas=[0.0, 2.0])
    moved = latent.latent_arithmetic(request, image=threes[4], set_a=eights, set_b=threes[:4], models=cache)
    assert read(moved.images) == [3, 8]
