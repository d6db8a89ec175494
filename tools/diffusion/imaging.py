"""Between model space and pictures: [-1, 1] tensors <-> 8-bit PIL images, and capped preview grids.

Models work on (B, C, H, W) float tensors in [-1, 1]; C is 1 (greyscale, PIL mode "L") or 3 (RGB).
Heavy imports (torch, numpy, PIL) happen inside the functions.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["Preview", "from_images", "grid_preview", "mse", "to_images"]

_PREVIEW_TARGET_SIDE = 256  # tiny images are upscaled (nearest) towards this so a person can see them
_PREVIEW_MIN_SHORT = 64  # and a wide strip further (within max_side), towards this short side
_GAP = 1  # pixels between grid cells


@dataclass(frozen=True)
class Preview:
    png: bytes
    width: int
    height: int
    columns: int


def to_images(batch: Any) -> list[Image]:
    """(B, C, H, W) tensor in [-1, 1] -> B PIL images ("L" for C=1, "RGB" for C=3), values clamped."""
    import numpy as np
    from PIL import Image as PILImage

    pixels = ((batch.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(dtype=_uint8())
    arrays = pixels.permute(0, 2, 3, 1).numpy()  # (B, H, W, C)
    if arrays.shape[-1] == 1:
        return [PILImage.fromarray(np.ascontiguousarray(a[..., 0])) for a in arrays]
    return [PILImage.fromarray(a) for a in arrays]


def from_images(images: Sequence[Image], channels: int) -> Any:
    """PIL images of one size -> (B, channels, H, W) float32 tensor in [-1, 1]."""
    import numpy as np
    import torch

    mode = "L" if channels == 1 else "RGB"
    arrays = [
        np.asarray(im.convert(mode), dtype=np.float32).reshape(im.height, im.width, -1) for im in images
    ]
    batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    return batch / 127.5 - 1


def mse(a: Image, b: Image) -> float:
    """Mean squared error of two same-size, same-mode images, pixel values scaled to [0, 1]."""
    import numpy as np

    x = np.asarray(a, dtype=np.float64) / 255.0
    y = np.asarray(b, dtype=np.float64) / 255.0
    return float(np.mean((x - y) ** 2))


def grid_preview(
    images: Sequence[Image], *, max_side: int, max_bytes: int, columns: int | None = None
) -> Preview:
    """A PNG grid of `images` at most `max_side` pixels a side and `max_bytes` bytes.

    Tiny images are upscaled by a whole factor (nearest neighbour) towards 256 px on the long side,
    a wide strip further (up to `max_side`) towards 64 px on its short side; a grid that is too
    large, in pixels or in bytes, is scaled down until it fits.
    """
    from PIL import Image as PILImage

    cols = columns or math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / cols)
    w, h = images[0].size
    mode = "L" if all(im.mode == "L" for im in images) else "RGB"
    grid = PILImage.new(mode, (cols * w + (cols - 1) * _GAP, rows * h + (rows - 1) * _GAP), 0)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        grid.paste(im.convert(mode), (c * (w + _GAP), r * (h + _GAP)))
    side, short = max(grid.size), min(grid.size)
    factor = max(1, min(_PREVIEW_TARGET_SIDE, max_side) // side)
    if short * factor < _PREVIEW_MIN_SHORT:  # a strip of tiny frames: grow it up to max_side to be seen
        factor = max(factor, min(-(-_PREVIEW_MIN_SHORT // short), max_side // side))
    if factor > 1:
        grid = grid.resize((grid.width * factor, grid.height * factor), PILImage.Resampling.NEAREST)
    scale = min(1.0, max_side / max(grid.size))
    while True:
        size = (max(1, int(grid.width * scale)), max(1, int(grid.height * scale)))
        shown = grid if size == grid.size else grid.resize(size, PILImage.Resampling.LANCZOS)
        buf = io.BytesIO()
        shown.save(buf, format="PNG", optimize=True)
        if buf.tell() <= max_bytes or size == (1, 1):
            return Preview(buf.getvalue(), shown.width, shown.height, cols)
        scale *= 0.75


def _uint8() -> Any:
    import torch

    return torch.uint8
