"""attention_map: where a ViT-style model's [CLS] token looks, rollout, and mean attention distance.

One image at a time (memory stays at one image's attentions: layers x heads x T x T floats):

    A[l]      (H, T, T)   softmax attention of layer l, T = special tokens + rows x columns patches
    cls       (R, C)      A[layer][head or mean over heads][0, patches]
    rollout   (R, C)      row 0 of  prod_{l <= layer} norm(0.5 mean_h A[l] + 0.5 I),  over the patches
    distance  (L, H)      mean over query patches i of  sum_j w_ij |c_i - c_j|,  w = A[l, h, patches, patches]
                          renormalised per row, c = patch centres in input pixels (DISTANCE_DEFINITION)

torch is imported inside the functions.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from genai_mcp.tools.anatomy.heatmap import HEATMAP_LAYOUT, heatmap, model_view
from genai_mcp.tools.anatomy.schemas import (
    AnatomyLimits,
    AttentionMapInfo,
    AttentionMapRequest,
    ImageAttention,
)
from genai_mcp.tools.errors import InvalidInputError, LimitExceededError, ModelUnavailableError
from genai_mcp.tools.images import ImagePolicy, load_images
from genai_mcp.tools.models import LoadRequest, ModelBundle, ModelCache, default_cache
from genai_mcp.tools.progress import Progress

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["EAGER_SUFFIX", "AttentionMaps", "attention_maps"]

EAGER_SUFFIX = "+eager-attention"
_NEEDS = (
    "a ViT-style image model: patch_size in its config and one attention map per layer over "
    "special tokens + patches (ViT, DeiT, BEiT-like classifiers, or a CLIP-style model's vision tower)"
)


@dataclass
class AttentionMaps:
    info: AttentionMapInfo
    heatmaps: list[Image]  # one per image: the input, the [CLS] map and the rollout side by side


def attention_maps(
    request: AttentionMapRequest,
    progress: Progress | None = None,
    *,
    policy: ImagePolicy | None = None,
    limits: AnatomyLimits | None = None,
    models: ModelCache | None = None,
) -> AttentionMaps:
    """The maps and distances of each image (see the module docstring); progress once per image.
    LimitExceededError past anatomy.max_images; InvalidInputError for a layer or head the model
    does not have; ModelUnavailableError for a model that is not ViT-style."""
    import torch

    started = time.perf_counter()
    specs = [request.image] if isinstance(request.image, str) else list(request.image)
    most = (limits or AnatomyLimits()).max_images
    if not specs:
        raise InvalidInputError("no image given: pass one image or a non-empty list")
    if len(specs) > most:
        raise LimitExceededError(
            "the number of images in one attention_map call", len(specs), most, "anatomy.max_images"
        )
    images = load_images(specs, policy or ImagePolicy())
    bundle = _eager(request.task, request.model, models)
    net, processor = _vision(bundle)
    patch = _patch_size(net.config, bundle.model_id)
    per_image: list[ImageAttention] = []
    pictures: list[Image] = []
    distance_sum: Any = None
    for n, picture in enumerate(images):
        pixels = processor(images=[picture], return_tensors="pt")["pixel_values"]
        pixels = pixels.to(bundle.device, dtype=getattr(torch, bundle.dtype))
        with torch.inference_mode():
            out = net(pixel_values=pixels, output_attentions=True)
        height, width = int(pixels.shape[-2]), int(pixels.shape[-1])
        rows, cols = height // patch, width // patch
        maps = _stack(out.attentions, rows * cols, bundle.model_id)  # (L, H, T, T)
        layers, heads, tokens = maps.shape[0], maps.shape[1], maps.shape[-1]
        layer = _index(request.layer, layers, "layer")
        if request.head is not None and request.head >= heads:
            raise InvalidInputError(
                f"head {request.head} does not exist: {bundle.model_id} has {heads} heads (0-{heads - 1})"
            )
        special = tokens - rows * cols
        chosen = maps[layer].mean(0) if request.head is None else maps[layer, request.head]  # (T, T)
        cls = chosen[0, special:].reshape(rows, cols)
        roll = _rollout(maps[: layer + 1])[0, special:].reshape(rows, cols)
        centres = _centres(rows, cols, patch, maps.device)  # (N, 2)
        apart = torch.cdist(centres, centres)  # (N, N) pixels
        distances = _distances(maps[:, :, special:, special:], apart)  # (L, H)
        distance_sum = distances if distance_sum is None else distance_sum + distances
        per_image.append(
            ImageAttention(
                cls_attention=cls.tolist(), rollout=roll.tolist(), mean_distance=float(distances.mean())
            )
        )
        pictures.append(heatmap(model_view(pixels[0], processor), cls, roll, patch))
        if progress is not None:
            progress(n + 1, len(images), f"image {n + 1}/{len(images)}")
    mean = (distance_sum / len(images)).tolist()
    info = AttentionMapInfo(
        model=bundle.model_id,
        device=bundle.device,
        input_height=height,
        input_width=width,
        patch_size=patch,
        grid_rows=rows,
        grid_columns=cols,
        special_tokens=special,
        layers=layers,
        heads=heads,
        layer=layer,
        head=request.head,
        images=per_image,
        mean_attention_distance=mean,
        mean_distance_per_layer=[sum(row) / len(row) for row in mean],
        max_distance=float(apart.max()),
        uniform_distance=float(apart.mean()),
        heatmap_layout=HEATMAP_LAYOUT,
        seconds=round(time.perf_counter() - started, 3),
    )
    return AttentionMaps(info=info, heatmaps=pictures)


def _eager(task: str, model: str | None, models: ModelCache | None) -> ModelBundle:
    """The model of `task` with eager attention, as its own entry of the one model cache.

    transformers 5 runs ViT and CLIP with SDPA, which returns no attention weights. The attention
    kind is read from the model's config on every forward, so switching the shared cached model
    (even for one call) would switch it for concurrent callers too, and theirs could switch it back
    mid-forward here. A separate entry, loaded by the cache's own loader and switched to eager
    before anyone else sees it, costs a second copy of the weights while both are cached; it is
    bounded, listed and evicted like any other entry.
    """
    from genai_mcp.tools.models.loaders import load_checkpoint

    cache = models if models is not None else default_cache()

    def load(request: LoadRequest) -> ModelBundle:
        # Keyed apart by the id; the bundle keeps the caller's id (messages, models://list).
        plain = dataclasses.replace(request, task=task, model_id=resolved.model_id)
        bundle = load_checkpoint(plain)
        bundle.model.set_attn_implementation("eager")
        return dataclasses.replace(bundle, task=request.task)

    with cache.using_default(task, model) as name:
        resolved = cache.resolve(task, name)
        eager = dataclasses.replace(resolved, model_id=resolved.model_id + EAGER_SUFFIX)
        return cache.load(task + EAGER_SUFFIX, eager, load)


def _vision(bundle: ModelBundle) -> tuple[Any, Any]:
    """(the module that takes pixel_values and returns attentions, its image processor)."""
    tower = getattr(bundle.model, "vision_model", None)
    if tower is not None:  # a CLIP-style dual encoder
        return tower, getattr(bundle.processor, "image_processor", bundle.processor)
    return bundle.model, bundle.processor


def _patch_size(config: Any, model_id: str) -> int:
    patch = getattr(getattr(config, "vision_config", config), "patch_size", None)
    if isinstance(patch, (tuple, list)):
        patch = patch[0] if len(set(patch)) == 1 else None
    if not isinstance(patch, int):
        raise ModelUnavailableError(
            f"{model_id} has no (square) patch_size in its config; attention_map needs {_NEEDS}"
        )
    return patch


def _stack(attentions: Any, patches: int, model_id: str) -> Any:
    import torch

    if not attentions or any(a is None for a in attentions):
        raise ModelUnavailableError(f"{model_id} returned no attention weights; attention_map needs {_NEEDS}")
    shapes = {tuple(a.shape[1:]) for a in attentions}
    tokens = attentions[0].shape[-1]
    if len(shapes) != 1 or tokens <= patches or attentions[0].shape[-2] != tokens:
        raise ModelUnavailableError(
            f"{model_id}'s attention maps ({sorted(shapes)}) are not over special tokens + {patches} patches; "
            f"attention_map needs {_NEEDS}"
        )
    return torch.stack([a[0].float() for a in attentions])  # (L, H, T, T)


def _index(value: int, count: int, what: str) -> int:
    index = value + count if value < 0 else value
    if not 0 <= index < count:
        raise InvalidInputError(
            f"{what} {value} does not exist: the model has {count} layers (0-{count - 1}, or -1 for the last)"
        )
    return index


def _rollout(maps: Any) -> Any:
    """(T, T) product of the residual-mixed, head-averaged maps of `maps` (L, H, T, T), first layer first."""
    import torch

    eye = torch.eye(maps.shape[-1], device=maps.device)
    rolled = eye
    for layer in maps:
        mixed = 0.5 * layer.mean(0) + 0.5 * eye
        rolled = (mixed / mixed.sum(-1, keepdim=True)) @ rolled
    return rolled


def _centres(rows: int, cols: int, patch: int, device: Any) -> Any:
    import torch

    r, c = torch.meshgrid(torch.arange(rows, device=device), torch.arange(cols, device=device), indexing="ij")
    return (
        torch.stack([r.flatten(), c.flatten()], -1).float() + 0.5
    ) * patch  # (N, 2) row-major, as the patches


def _distances(weights: Any, apart: Any) -> Any:
    """(L, H) mean over queries of the renormalised attention-weighted distance; weights (L, H, N, N)."""
    w = weights / weights.sum(-1, keepdim=True).clamp_min(1e-12)
    return (w * apart).sum(-1).mean(-1)
