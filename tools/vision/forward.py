"""What both vision tools do before and around their forward pass: decode, time, preprocess, share.

`shared_forward` runs a model's forward on one call's pixels, in one pass with concurrent callers'
pixels for the same model and input shape when given a ForwardBatcher (tools/models/batching.py):
each call decodes and preprocesses its own images (its errors stay its own), only the forward runs
on the stacked pixels, and each call reads its own rows back. A call's `forward_ms` is the time it
spent in the forward step: the wait for the batch to form (at most the window) plus the shared pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from genai_mcp.tools.errors import InvalidInputError, LimitExceededError, ModelUnavailableError
from genai_mcp.tools.images import ImagePolicy, load_images
from genai_mcp.tools.models import ModelBundle
from genai_mcp.tools.models.batching import ForwardBatcher
from genai_mcp.tools.vision.schemas import Timing

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["Clock", "coming", "decode_all", "pixels_of", "shared_forward"]


class Clock:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.last = self.started
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + (now - self.last) * 1000
        self.last = now

    def timing(self) -> Timing:
        total = (time.perf_counter() - self.started) * 1000
        return Timing(
            load_ms=round(self.laps.get("load_ms", 0.0), 3),
            decode_ms=round(self.laps.get("decode_ms", 0.0), 3),
            preprocess_ms=round(self.laps.get("preprocess_ms", 0.0), 3),
            forward_ms=round(self.laps.get("forward_ms", 0.0), 3),
            total_ms=round(total, 3),
        )


def decode_all(image: str | list[str], policy: ImagePolicy, max_batch: int) -> list[Image]:
    specs = [image] if isinstance(image, str) else list(image)
    if not specs:
        raise InvalidInputError("no image given: pass one image or a non-empty list")
    if len(specs) > max_batch:
        raise LimitExceededError(
            "the number of images in one call", len(specs), max_batch, "vision.max_batch"
        )
    return load_images(specs, policy)


def coming(batcher: ForwardBatcher | None, group: tuple[str, str | None]) -> AbstractContextManager[None]:
    """Around a whole call (decoding included): its batcher's leaders know it is on its way."""
    return batcher.coming(group) if batcher is not None and batcher.enabled else nullcontext()


def shared_forward(
    batcher: ForwardBatcher | None,
    what: str,
    net: Any,
    pixels: Any,
    run: Callable[[Any], Any],
    group: tuple[str, str | None] | None = None,
) -> Any:
    """run(pixels), in one pass with concurrent callers' pixels for the same model and input shape;
    `group` as given to `coming` around the call."""
    import torch

    if batcher is None or not batcher.enabled:
        return run(pixels)

    def forward(batch: list[Any]) -> list[Any]:
        with torch.inference_mode():  # the leader's thread runs it: inference mode is per thread
            out = run(batch[0] if len(batch) == 1 else torch.cat(batch))  # (sum B_i, ...)
        return list(out.split([len(p) for p in batch]))

    key = (what, net, tuple(pixels.shape[1:]), pixels.dtype, pixels.device)
    return batcher.run(key, pixels, forward, rows=len(pixels), group=group)


def pixels_of(
    bundle: ModelBundle, image_processor: Any, images: list[Image], *, pixels_only: bool = False
) -> Any:
    import torch

    encoded = image_processor(images=images, return_tensors="pt")
    extra = sorted(set(encoded) - {"pixel_values"})
    if pixels_only and extra:
        raise ModelUnavailableError(
            f"{bundle.model_id}'s image processor also gives {', '.join(extra)}: inputs of a "
            "variable-resolution image tower (such as Siglip2Model's) that zero_shot_classify does not "
            "pass; use a fixed-resolution CLIP or SigLIP checkpoint"
        )
    pixels = encoded["pixel_values"]
    dtype = getattr(torch, bundle.dtype)
    return pixels.to(bundle.device, dtype=dtype)
