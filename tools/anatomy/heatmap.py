"""Heatmap PNGs of attention over an image: the input as the model saw it, then the maps on top.

Each map (rows x columns, one value per patch) is scaled to [0, 1] on its own (min to max),
coloured with a perceptually ordered dark-to-bright ramp, blown up to whole patches (nearest
neighbour: a patch is one value) and blended over the input. Small inputs (the house models' 16 px
digits) are enlarged by a whole factor towards 224 px so that patches stay visible.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["HEATMAP_LAYOUT", "heatmap", "model_view"]

HEATMAP_LAYOUT = (
    "Three panels side by side: the input as the model saw it (after resizing and cropping), the [CLS] "
    "attention of the chosen layer and head over it, and the rollout over it; each map scaled from its "
    "own minimum (dark) to its maximum (bright yellow)."
)
_TARGET_SIDE = 224
_GAP = 4
# Anchors of an inferno-like ramp: black, purple, red, orange, pale yellow.
_RAMP = ((0, 0, 4), (87, 16, 110), (188, 55, 84), (249, 142, 9), (252, 255, 164))


def model_view(pixels: Any, processor: Any) -> Image:
    """(C, H, W) normalised pixel values back as the RGB image the model saw."""
    import numpy as np
    from PIL import Image as PILImage

    x = pixels.detach().float().cpu().numpy()  # (C, H, W)
    if getattr(processor, "do_normalize", False):
        mean = np.asarray(processor.image_mean, dtype=np.float32).reshape(-1, 1, 1)
        std = np.asarray(processor.image_std, dtype=np.float32).reshape(-1, 1, 1)
        x = x * std + mean
    if not getattr(processor, "do_rescale", True):
        x = x / 255.0
    if x.shape[0] == 1:
        x = np.repeat(x, 3, axis=0)
    rgb = (np.clip(x[:3].transpose(1, 2, 0), 0.0, 1.0) * 255).round().astype(np.uint8)
    return PILImage.fromarray(rgb, "RGB")


def heatmap(view: Image, cls: Any, rollout: Any, patch: int) -> Image:
    """`view` | `cls` over it | `rollout` over it; the maps are (rows, cols) tensors."""
    from PIL import Image as PILImage

    scale = max(1, _TARGET_SIDE // max(view.size))
    width, height = view.width * scale, view.height * scale
    base = view.resize((width, height), PILImage.Resampling.NEAREST)
    panels = [base, _overlay(base, cls, patch * scale), _overlay(base, rollout, patch * scale)]
    sheet = PILImage.new("RGB", (3 * width + 2 * _GAP, height), (255, 255, 255))
    for i, panel in enumerate(panels):
        sheet.paste(panel, (i * (width + _GAP), 0))
    return sheet


def _overlay(base: Image, values: Any, cell: int) -> Image:
    import numpy as np
    from PIL import Image as PILImage

    grid = values.detach().float().cpu().numpy()
    span = float(grid.max() - grid.min())
    unit = (grid - grid.min()) / span if span > 0 else np.zeros_like(grid)
    colours = _colour(unit)  # (rows, cols, 3)
    blocks = np.repeat(np.repeat(colours, cell, axis=0), cell, axis=1)
    canvas = np.zeros((base.height, base.width, 3), dtype=np.uint8)
    h, w = min(base.height, blocks.shape[0]), min(base.width, blocks.shape[1])
    canvas[:h, :w] = blocks[:h, :w]  # pixels past the last whole patch (never seen) stay dark
    return PILImage.blend(base, PILImage.fromarray(canvas, "RGB"), 0.6)


def _colour(unit: Any) -> Any:
    import numpy as np

    stops = np.linspace(0.0, 1.0, len(_RAMP))
    ramp = np.asarray(_RAMP, dtype=np.float32)
    channels = [np.interp(unit, stops, ramp[:, k]) for k in range(3)]
    return np.stack(channels, -1).round().astype(np.uint8)
