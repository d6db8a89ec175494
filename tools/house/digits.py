"""The one canonical path from scikit-learn's digits to images: every house vision model trains on it.

scikit-learn's `load_digits` ships inside the package (no network): 1797 grey 8x8 digits with values
0-16, about 180 per class. Each becomes a 16x16 RGB PIL image: values scaled by 255/16 (bright ink on
a dark background), upscaled 8x8 -> 16x16 with bilinear resampling, grey copied to three channels.
The split is fixed: 80/20 stratified, seed 0, so the held-out test set is the same 360 images for
every model and every test. Heavy imports (numpy, PIL, sklearn) happen inside the functions.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["DIGIT_NAMES", "IMAGE_SIZE", "SPLIT_SEED", "TEST_FRACTION", "Split", "digit_images"]

Split = Literal["train", "test", "all"]

DIGIT_NAMES: tuple[str, ...] = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
)
IMAGE_SIZE = 16  # pixels per side of the images the house vision models see
SPLIT_SEED = 0
TEST_FRACTION = 0.2


@lru_cache(maxsize=1)
def _split_indices() -> tuple[tuple[int, ...], tuple[int, ...]]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    labels = load_digits().target
    train, test = train_test_split(
        list(range(len(labels))), test_size=TEST_FRACTION, stratify=labels, random_state=SPLIT_SEED
    )
    return tuple(int(i) for i in train), tuple(int(i) for i in test)


def digit_images(split: Split, size: int = IMAGE_SIZE) -> tuple[list[Image], list[int]]:
    """The digits of `split` as (RGB PIL images of size x size pixels, labels 0-9), in a fixed order.

    "train" is 1437 images, "test" the 360 held out (80/20 stratified, seed 0), "all" all 1797
    in dataset order. `size` 16 (the default) is what the house models train on; 8 gives the raw
    8x8 scans; other sizes (8-512) are bilinear resizes of the 8x8 scan, for testing inputs of other
    sizes. Fresh PIL images on every call, so callers may modify them.
    """
    import numpy as np
    from PIL import Image as PILImage
    from sklearn.datasets import load_digits

    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', not {split!r}")
    if not 8 <= size <= 512:
        raise ValueError(f"size must be 8-512 pixels, not {size}")
    digits = load_digits()
    train, test = _split_indices()
    indices = {"train": train, "test": test, "all": tuple(range(len(digits.target)))}[split]
    images: list[Image] = []
    for i in indices:
        grey = np.clip(np.rint(digits.images[i] * (255.0 / 16.0)), 0, 255).astype(np.uint8)
        small = PILImage.fromarray(grey)  # 2-D uint8 -> mode "L"
        big = small if size == 8 else small.resize((size, size), PILImage.Resampling.BILINEAR)
        images.append(big.convert("RGB"))
    return images, [int(digits.target[i]) for i in indices]
