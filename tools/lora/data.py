"""A LoRA request's dataset, loaded, checked against the limits, and split: `load_dataset(...)`.

causal-lm, `request.dataset` is one of
    ["passage", "passage", ...]     inline texts, one passage each (a list of ONE text is split
                                    into passages at blank lines, so a pasted document works)
    "first passage\n\nsecond..."    one text of several lines: split into passages at blank lines
    "notes.txt"                     a file under the roots: passages separated by blank lines
    "notes.jsonl"                   a file under the roots: one {"text": "..."} object per line
A string without a line break is always read as a path.

image-classification, `request.dataset` is one of
    [{"image": ..., "label": ...}]  inline; each image is anything tools/images.load_image accepts
    "digits/"                       a folder under the roots with one subfolder per class, named by
                                    its label, holding .png .jpg .jpeg .webp .gif .bmp files (other
                                    files, deeper folders and hidden entries are ignored)

The split is seeded by `request.seed`: texts are shuffled and max(1, round(n * eval_fraction)) held
out; images are held out per class (round(n_c * eval_fraction), at least 1 of a class with 2 or
more, never all of one), so every class is trained on. Counts are checked before anything is decoded.
Images are kept at most MAX_KEPT_SIDE pixels a side (downscaled, aspect kept) while the dataset is
in memory.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from genai_mcp.tools.errors import InvalidInputError, LimitExceededError
from genai_mcp.tools.images import ImagePolicy, decode_image, load_image
from genai_mcp.tools.limits import limit
from genai_mcp.tools.lora.schemas import LabelledImage, LoraRequest
from genai_mcp.tools.paths import is_inside, resolve_under_roots

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_KEPT_SIDE",
    "TEXT_SUFFIXES",
    "ImageData",
    "LoraLimits",
    "TextData",
    "load_dataset",
]

TEXT_SUFFIXES = (".txt", ".jsonl")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")
MAX_KEPT_SIDE = 512
_BLANK_LINES = re.compile(r"\n[ \t\r\f\v]*\n\s*")


@dataclass(frozen=True)
class LoraLimits:
    """What one fine-tuning job may use; each refusal carries the key of the limit it hit."""

    max_examples: int = limit("lora.max_examples", 5000)  # passages or images
    max_text_chars: int = limit("lora.max_text_chars", 2_000_000)  # all passages together
    max_steps: int = limit("lora.max_steps", 2000)  # optimizer steps
    max_rank: int = limit("lora.max_rank", 64)
    max_batch_size: int = limit("lora.max_batch_size", 64)
    roots: tuple[Path, ...] = ()  # files.roots: where dataset files/folders may be read


@dataclass
class TextData:
    train: list[str]  # passages, stripped, none empty
    eval: list[str]
    source: str  # e.g. "inline: 40 texts", "notes.txt: 120 passages"


@dataclass
class ImageData:
    train: list[tuple[Image, str]]  # (RGB image, label)
    eval: list[tuple[Image, str]]
    labels: list[str]  # sorted distinct labels
    source: str  # e.g. "digits/: 300 images in 10 classes"


def load_dataset(request: LoraRequest, *, limits: LoraLimits, policy: ImagePolicy) -> TextData | ImageData:
    """The request's dataset split into train and eval (see the module docstring).

    Raises InvalidInputError for a dataset of the wrong shape for the task, unreadable or malformed
    data (naming the item, line or file), too few passages/classes to hold any out; LimitExceededError
    for more than `limits.max_examples` items or `limits.max_text_chars` characters.
    """
    if request.task == "causal-lm":
        return _load_texts(request, limits)
    return _load_images(request, limits, policy)


def _load_texts(request: LoraRequest, limits: LoraLimits) -> TextData:
    data = request.dataset
    if isinstance(data, list) and any(isinstance(item, LabelledImage) for item in data):
        raise InvalidInputError(
            "causal-lm needs texts: a list of strings or a .txt/.jsonl path, not {image, label} items"
        )
    if isinstance(data, str) and "\n" not in data.strip():
        passages, source = _text_file(data, limits)
    else:
        texts = [data] if isinstance(data, str) else [t for t in data if isinstance(t, str)]
        passages, source = _inline_texts(texts, limits)
    train, held = _split_texts(passages, request.eval_fraction, request.seed)
    return TextData(train=train, eval=held, source=source)


def _load_images(request: LoraRequest, limits: LoraLimits, policy: ImagePolicy) -> ImageData:
    data = request.dataset
    if isinstance(data, str):
        items, source = _image_folder(data, limits)
    elif data and all(isinstance(item, LabelledImage) for item in data):
        items = [
            _Item(f"image {i}", item.label, item.image)
            for i, item in enumerate(data)
            if isinstance(item, LabelledImage)
        ]
        _check_count(len(items), "images", limits)
        source = "inline"
    else:
        what = "an empty list" if not data else "a list of texts"
        raise InvalidInputError(
            f"image-classification needs a list of {{image, label}} items or a folder of class subfolders "
            f"under the roots, not {what}"
        )
    labels = [_label(item) for item in items]
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise InvalidInputError(
            f"image-classification needs at least 2 classes; the dataset has only {classes or 'none'}"
        )
    eval_ids = _stratified_eval(labels, request.eval_fraction, request.seed)
    train: list[tuple[Image, str]] = []
    held: list[tuple[Image, str]] = []
    for i, (item, label) in enumerate(zip(items, labels, strict=True)):
        image = _decode(item, policy)
        (held if i in eval_ids else train).append((image, label))
    source = f"{source}: {len(items)} images in {len(classes)} classes"
    return ImageData(train=train, eval=held, labels=classes, source=source)


# ---- texts


def _inline_texts(texts: list[str], limits: LoraLimits) -> tuple[list[str], str]:
    if len(texts) == 1:
        passages = _passages(texts[0])
        source = f"inline: 1 text, {len(passages)} passages"
    else:
        passages = [t.strip() for t in texts if t.strip()]
        source = f"inline: {len(passages)} texts"
    _check_texts(passages, limits)
    return passages, source


def _text_file(raw: str, limits: LoraLimits) -> tuple[list[str], str]:
    path = resolve_under_roots(raw, limits.roots, what="dataset")
    shown = repr(raw.strip()[:200])
    if path.is_dir():
        raise InvalidInputError(
            f"the dataset {shown} is a folder; causal-lm needs a {' or '.join(TEXT_SUFFIXES)} file"
        )
    if path.suffix.lower() not in TEXT_SUFFIXES:
        raise InvalidInputError(
            f"the dataset {shown} was read as a file path; causal-lm accepts {', '.join(TEXT_SUFFIXES)} "
            "files (or inline texts: a list of strings)"
        )
    # UTF-8 spends at most 4 bytes a character: a larger file cannot fit, so refuse it unread.
    max_bytes = 4 * limits.max_text_chars
    size = path.stat().st_size
    if size > max_bytes:
        raise LimitExceededError(
            f"the dataset file {shown}'s size in bytes", size, max_bytes, "lora.max_text_chars"
        )
    with open(path, "rb") as f:
        data = f.read(max_bytes + 1)  # it may have grown since stat
    if len(data) > max_bytes:
        raise LimitExceededError(
            f"the dataset file {shown}'s size in bytes", len(data), max_bytes, "lora.max_text_chars"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"the dataset file {shown} is not UTF-8 text (undecodable byte at offset {exc.start})"
        ) from None
    passages = _jsonl_texts(text, shown) if path.suffix.lower() == ".jsonl" else _passages(text)
    _check_texts(passages, limits)
    return passages, f"{raw.strip()}: {len(passages)} passages"


def _passages(text: str) -> list[str]:
    return [p.strip() for p in _BLANK_LINES.split(text.replace("\r\n", "\n")) if p.strip()]


def _jsonl_texts(text: str, shown: str) -> list[str]:
    texts: list[str] = []
    # Only "\n" ends a record: splitlines() would also break at U+2028, which JSON strings may hold raw.
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"line {number} of {shown} is not valid JSON: {exc.msg}") from None
        value = record.get("text") if isinstance(record, dict) else None
        if not isinstance(value, str):
            raise InvalidInputError(f'line {number} of {shown} is not an object with a string "text" field')
        if value.strip():
            texts.append(value.strip())
    return texts


def _check_texts(passages: list[str], limits: LoraLimits) -> None:
    if not passages:
        raise InvalidInputError("the dataset holds no text (it is empty or only blank)")
    _check_count(len(passages), "passages", limits)
    chars = sum(len(p) for p in passages)
    if chars > limits.max_text_chars:
        raise LimitExceededError(
            "the dataset's total length in characters", chars, limits.max_text_chars, "lora.max_text_chars"
        )


def _split_texts(passages: list[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    n = len(passages)
    if n < 2:
        raise InvalidInputError(
            "need at least 2 passages: one to train, one to hold out (separate passages by blank lines "
            "or pass a list of texts)"
        )
    order = list(range(n))
    random.Random(seed).shuffle(order)
    held = set(order[: min(n - 1, max(1, round(n * fraction)))])
    # Each split keeps the dataset's own order, which makes it easy to read back.
    return [p for i, p in enumerate(passages) if i not in held], [
        p for i, p in enumerate(passages) if i in held
    ]


# ---- images


class _Item(NamedTuple):
    name: str  # how messages name it: "image 3" (inline) or "cat/a.png" (folder)
    label: str
    source: str | Path  # a load_image spec, or a file already confined to the roots


def _image_folder(raw: str, limits: LoraLimits) -> tuple[list[_Item], str]:
    """The images of a class-subfolder dataset (not yet decoded), and how to describe it."""
    folder = resolve_under_roots(raw, limits.roots, what="dataset")
    shown = repr(raw.strip()[:200])
    layout = "a folder with one subfolder of images per class (e.g. digits/3/a.png)"
    if not folder.is_dir():
        raise InvalidInputError(f"the dataset {shown} is a file; image-classification needs {layout}")
    files = [
        (class_dir.name, entry)
        for class_dir in sorted(folder.iterdir())
        if not class_dir.name.startswith(".") and class_dir.is_dir()
        for entry in sorted(class_dir.iterdir())
        if not entry.name.startswith(".") and entry.suffix.lower() in IMAGE_SUFFIXES and entry.is_file()
    ]
    if not files:
        raise InvalidInputError(
            f"the folder {shown} holds no images in class subfolders; expected {layout} "
            f"with files ending in {' '.join(IMAGE_SUFFIXES)}"
        )
    _check_count(len(files), "images", limits)
    real_roots = [r.expanduser().resolve() for r in limits.roots]
    items = []
    for label, entry in files:
        name = f"{label}/{entry.name}"
        real = entry.resolve()
        if not is_inside(real, real_roots):
            raise InvalidInputError(f"image {name} leads through a symlink outside the allowed roots")
        items.append(_Item(name, label, real))
    return items, raw.strip().rstrip("/") + "/"


def _label(item: _Item) -> str:
    stripped = item.label.strip()
    if not stripped:
        raise InvalidInputError(f"{item.name} has a blank label; every image needs a class name")
    return stripped


def _stratified_eval(labels: Sequence[str], fraction: float, seed: int) -> set[int]:
    rng = random.Random(seed)
    held: set[int] = set()
    for label in sorted(set(labels)):
        members = [i for i, x in enumerate(labels) if x == label]
        n = len(members)
        if n < 2:
            continue  # a lone image can only be trained on
        rng.shuffle(members)
        held.update(members[: min(n - 1, max(1, round(n * fraction)))])
    if not held:
        raise InvalidInputError(
            "no class has 2 or more images, so none can be held out to evaluate; add images"
        )
    return held


def _decode(item: _Item, policy: ImagePolicy) -> Image:
    name = item.name
    try:
        if isinstance(item.source, str):
            image = load_image(item.source, policy)
        else:
            # Already confined to limits.roots, which policy.roots need not repeat: read it here.
            with open(item.source, "rb") as f:
                data = f.read(policy.limits.max_bytes + 1)  # decode_image refuses anything larger
            image = decode_image(data, policy)
        # A whole dataset is held in memory: thousands of 40-megapixel photos would not fit, and
        # image processors resize far below this side anyway.
        image.thumbnail((MAX_KEPT_SIDE, MAX_KEPT_SIDE))
        return image
    except LimitExceededError as exc:
        raise LimitExceededError(f"{name}: {exc.what}", exc.value, exc.limit, exc.setting) from None
    except InvalidInputError as exc:
        raise InvalidInputError(f"{name}: {exc}", setting=exc.setting) from None
    except OSError as exc:
        raise InvalidInputError(f"{name} cannot be read: {exc.strerror or exc}") from None


def _check_count(n: int, what: str, limits: LoraLimits) -> None:
    if n > limits.max_examples:
        raise LimitExceededError(
            f"the dataset's number of {what}", n, limits.max_examples, "lora.max_examples"
        )
