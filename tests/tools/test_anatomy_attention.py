"""Attention maps, rollout and mean attention distance on real ViTs.

The house ViT and CLIP (trained weights), and ViT-B/16-shaped models built here (224 px, 16 px
patches, a 14 x 14 grid; two layers to stay quick): one with random weights, and one whose weights
are set so that layer 0 can only attend near each patch and layer 1 attends uniformly. Nothing is
downloaded; the [CLS] map is checked against transformers' own eager attention.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from genai_mcp.tools.anatomy import AnatomyLimits, AttentionMapRequest, attention_maps
from genai_mcp.tools.errors import InvalidInputError, LimitExceededError, ModelUnavailableError
from genai_mcp.tools.house.digits import digit_images
from genai_mcp.tools.models import ModelCache
from tests.helpers.images import b64, encode

VIT_B: dict[str, Any] = {
    "hidden_size": 768,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "image_size": 224,
    "patch_size": 16,
}


@pytest.fixture(scope="module")
def cache() -> ModelCache:
    return ModelCache(device="cpu")


@pytest.fixture(scope="module")
def digits() -> list[str]:
    images, _ = digit_images("test")
    return [b64(encode(im)) for im in images[:3]]


def save_vit(folder: Path, craft: bool) -> str:
    """A 2-layer ViT-B/16-shaped classifier with its image processor. `craft`: layer 0's queries and
    keys see only 2-D sinusoidal position features (every patch the same norm, so the pre-attention
    LayerNorm keeps them), scaled so that a patch attends to itself and its neighbours; layer 1's
    queries and keys are zero (uniform attention); nothing else writes to the residual stream, so
    both layers see the positions alone."""
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    torch.manual_seed(0)
    config = ViTConfig(num_hidden_layers=2, **VIT_B)
    config.num_labels = 3  # not a typed ViTConfig argument in transformers 5
    model = ViTForImageClassification(config)
    if craft:
        with torch.no_grad():
            for name, p in model.named_parameters():
                if any(
                    k in name for k in ("patch_embeddings", "o_proj", "fc2", "q_proj.bias", "k_proj.bias")
                ):
                    p.zero_()
            model.vit.embeddings.position_embeddings[0, 1:] = _positions(14, 64, 12)
            layers: Any = model.vit.layers
            for proj in (layers[0].attention.q_proj, layers[0].attention.k_proj):
                proj.weight.copy_(1.25 * torch.eye(768))
            for proj in (layers[1].attention.q_proj, layers[1].attention.k_proj):
                proj.weight.zero_()
    model.save_pretrained(str(folder))
    ViTImageProcessor(size={"height": 224, "width": 224}).save_pretrained(str(folder))
    return str(folder)


def _positions(side: int, head_dim: int, heads: int) -> torch.Tensor:
    """(side^2, head_dim x heads): per head [cos, sin of x and y at 8 frequencies] and their negatives
    (zero mean), scaled to unit mean square, so LayerNorm leaves them as they are."""
    r, c = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    x, y = c.flatten().float(), r.flatten().float()
    freqs = math.pi * torch.arange(1, head_dim // 8 + 1).float() / 16
    feats = torch.cat([f(v[:, None] * freqs) for v in (x, y) for f in (torch.cos, torch.sin)], 1)  # (N, 32)
    per_head = torch.cat([feats, -feats], 1) * math.sqrt(2)  # (N, 64), mean 0, mean square 1
    return per_head.repeat(1, heads)


def uniform_distance(side: int, patch: int) -> float:
    centres = (
        np.stack(np.meshgrid(np.arange(side), np.arange(side), indexing="ij"), -1).reshape(-1, 2) + 0.5
    ) * patch
    return float(np.linalg.norm(centres[:, None] - centres[None], axis=-1).mean())


def test_house_vit_maps_match_transformers_eager_attention_and_the_cached_model_keeps_sdpa(
    cache: ModelCache, digits: list[str]
) -> None:
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    shared = cache.get("image-classification").model
    maps = attention_maps(AttentionMapRequest(image=digits[:2]), models=cache)
    info = maps.info
    assert (info.model, info.input_height, info.patch_size, info.grid_rows, info.grid_columns) == (
        "house/vit-digits", 16, 4, 4, 4,
    )  # fmt: skip
    assert (info.layers, info.heads, info.layer, info.head, info.special_tokens) == (4, 4, 3, None, 1)
    assert len(info.mean_attention_distance) == 4 and all(
        len(row) == 4 for row in info.mean_attention_distance
    )
    assert info.max_distance == pytest.approx(4 * 3 * math.sqrt(2))
    assert info.uniform_distance == pytest.approx(uniform_distance(4, 4))
    flat = [d for row in info.mean_attention_distance for d in row]
    assert all(0 <= d <= info.max_distance for d in flat)
    assert maps.heatmaps[0].size == (3 * 224 + 8, 224)

    # The [CLS] map of the last layer, averaged over heads, as transformers computes it.
    path = "tools/house_models/vit-digits"
    eager = AutoModelForImageClassification.from_pretrained(path, attn_implementation="eager").eval()
    picture = Image.open(io.BytesIO(base64.b64decode(digits[0])))
    pixels = AutoImageProcessor.from_pretrained(path)(images=[picture], return_tensors="pt")["pixel_values"]
    with torch.inference_mode():
        attentions = eager(pixel_values=pixels, output_attentions=True).attentions
    expected = attentions[-1][0].mean(0)[0, 1:].reshape(4, 4)
    assert torch.allclose(torch.tensor(info.images[0].cls_attention), expected, atol=1e-5)
    rollout = torch.tensor(info.images[0].rollout)
    assert (rollout >= 0).all() and 0 < float(rollout.sum()) < 1  # the rest stays on [CLS]

    # The shared entry other tools use still runs SDPA; the eager copy is an entry of its own.
    assert shared.config._attn_implementation == "sdpa"
    entries = [(i.id, i.task) for i in cache.loaded()]
    assert ("house/vit-digits", "image-classification+eager-attention") in entries


def test_clip_vision_tower_and_a_chosen_layer_and_head(cache: ModelCache, digits: list[str]) -> None:
    request = AttentionMapRequest(image=digits[0], task="zero-shot-image-classification", layer=0, head=2)
    info = attention_maps(request, models=cache).info
    assert info.model == "house/clip-digits" and (info.layers, info.heads, info.layer, info.head) == (
        3,
        4,
        0,
        2,
    )
    assert len(info.images) == 1 and len(info.images[0].cls_attention) == 4
    assert sum(map(sum, info.images[0].cls_attention)) < 1  # [CLS] keeps some attention on itself


def test_vit_b16_shaped_random_weights_give_distances_in_range(
    cache: ModelCache, digits: list[str], tmp_path: Path
) -> None:
    folder = save_vit(tmp_path / "vit-b16-random", craft=False)
    steps: list[tuple[int, int | None]] = []
    maps = attention_maps(
        AttentionMapRequest(image=digits[:2], model=folder, layer=-2),
        lambda done, total, message=None: steps.append((done, total)),
        models=cache,
    )
    info = maps.info
    assert (info.input_height, info.input_width, info.grid_rows, info.grid_columns) == (224, 224, 14, 14)
    assert (info.layers, info.heads, info.layer) == (2, 12, 0)
    assert info.max_distance == pytest.approx(16 * 13 * math.sqrt(2))
    assert all(0 <= d <= info.max_distance for row in info.mean_attention_distance for d in row)
    assert len(info.images[0].cls_attention) == 14 and len(info.images[0].rollout[0]) == 14
    assert steps == [(1, 2), (2, 2)]
    assert maps.heatmaps[0].size == (3 * 224 + 8, 224)


def test_forced_local_attention_gives_small_distances_and_uniform_attention_the_mean_distance(
    cache: ModelCache, digits: list[str], tmp_path: Path
) -> None:
    folder = save_vit(tmp_path / "vit-b16-local", craft=True)
    info = attention_maps(AttentionMapRequest(image=digits[0], model=folder), models=cache).info
    local, uniform = info.mean_distance_per_layer
    expected_uniform = uniform_distance(14, 16)
    assert info.uniform_distance == pytest.approx(expected_uniform, rel=1e-6)
    assert uniform == pytest.approx(expected_uniform, rel=1e-4)
    assert all(
        row == pytest.approx([expected_uniform] * 12, rel=1e-4) for row in info.mean_attention_distance[1:]
    )
    assert 0 < local < 16  # within one patch of the query, on average
    assert local < 0.15 * uniform


def test_bad_requests_are_refused_naming_the_limit_or_the_model(
    cache: ModelCache, digits: list[str], tmp_path: Path
) -> None:
    with pytest.raises(LimitExceededError, match="over the limit of 2") as caught:
        attention_maps(AttentionMapRequest(image=digits), limits=AnatomyLimits(max_images=2), models=cache)
    assert caught.value.setting == "anatomy.max_images"
    with pytest.raises(InvalidInputError, match=r"layer 4 does not exist: the model has 4 layers \(0-3"):
        attention_maps(AttentionMapRequest(image=digits[0], layer=4), models=cache)
    with pytest.raises(InvalidInputError, match=r"head 4 does not exist: house/vit-digits has 4 heads"):
        attention_maps(AttentionMapRequest(image=digits[0], head=4), models=cache)
    with pytest.raises(InvalidInputError, match="image 1 \\(counting from 0\\)"):
        attention_maps(AttentionMapRequest(image=[digits[0], "not an image"]), models=cache)

    from transformers import ResNetConfig, ResNetForImageClassification, ViTImageProcessor

    folder = tmp_path / "resnet"
    config = ResNetConfig(embedding_size=8, hidden_sizes=[8], depths=[1], layer_type="basic")
    ResNetForImageClassification(config).save_pretrained(str(folder))
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(str(folder))
    with pytest.raises(
        ModelUnavailableError, match=r"no \(square\) patch_size .* needs a ViT-style image model"
    ):
        attention_maps(AttentionMapRequest(image=digits[0], model=str(folder)), models=cache)
