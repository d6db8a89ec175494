"""Turn what a caller passed as `model`, `device` and `dtype` into checked, canonical values.

Nothing here loads weights or touches the network; only `resolve_device` imports torch (to ask
whether CUDA is there), and only when the answer depends on it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from genai_mcp.tools.errors import InvalidInputError, ModelUnavailableError
from genai_mcp.tools.house import HOUSE_MODELS, is_house_name

__all__ = [
    "DTYPES",
    "MAX_MODEL_ID_CHARS",
    "TASKS",
    "ResolvedModel",
    "Source",
    "Task",
    "house_default",
    "resolve_device",
    "resolve_dtype",
    "resolve_model",
    "resolve_task",
]

Task = Literal[
    "image-classification",
    "zero-shot-image-classification",
    "text-generation",
    "unconditional-image-generation",
    "text-to-image",
]
TASKS: tuple[Task, ...] = get_args(Task)  # the checkpoint tasks ModelCache.get loads itself
# house: a house name; local: a directory; hub: a hub id; package: weights inside an installed package
Source = Literal["house", "local", "hub", "package"]

MAX_MODEL_ID_CHARS = 1024
# Hub ids: "name" or "owner/name"; each part starts alphanumeric, at most 96 characters, no "--" or
# ".." (the hub refuses those, and ".." would let an id climb out of the cache folder).
_HUB_ID = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")

# dtype names a caller may use -> the canonical torch name
DTYPES: dict[str, str] = {
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
}
# Half precision is slow or missing for many CPU kernels; bfloat16 is the one CPU-friendly option.
_CPU_DTYPES = ("float32", "bfloat16")


@dataclass(frozen=True)
class ResolvedModel:
    """A checked model reference: `model_id` is the cache key part, `ref` is what from_pretrained gets."""

    model_id: str  # "house/vit-digits", an absolute directory, or a hub id
    ref: str  # a directory for house/local, the hub id for hub
    source: Source


def resolve_task(task: str) -> Task:
    if task not in TASKS:
        raise InvalidInputError(f"unknown task {task!r}; allowed: {', '.join(TASKS)}")
    return task  # type: ignore[return-value]  # narrowed by the membership test


def house_default(task: str) -> str:
    """The house model name that serves `task` when the caller names no model."""
    for house in HOUSE_MODELS.values():
        if house.task == task:
            name: str = house.name
            return name
    raise ModelUnavailableError(f"no house model is registered for {task}; pass a model id or directory")


def resolve_model(
    task: str, model: str | None, *, local_roots: Sequence[Path] | None = None
) -> ResolvedModel:
    """Classify `model` as house name, local directory or hub id, rejecting malformed values.

    `model=None` picks the house default for `task`; a house name must serve `task`. A string containing a path component ".." is
    refused outright (pass the normalised path instead). With `local_roots`, a local directory must
    lie inside one of them (after resolving symlinks). Raises InvalidInputError for malformed ids,
    ModelUnavailableError for well-formed ones that name nothing loadable here.
    """
    if model is None:
        model = house_default(task)
    if not isinstance(model, str):
        raise InvalidInputError(
            f"model must be a string (a hub id, a directory or a house name), not {type(model).__name__}"
        )
    if not model.strip():
        raise InvalidInputError("model is empty; pass a hub id, a local directory, a house name, or omit it")
    if len(model) > MAX_MODEL_ID_CHARS:
        raise InvalidInputError(
            f"model is {len(model)} characters long, over the limit of {MAX_MODEL_ID_CHARS}"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in model):
        raise InvalidInputError("model contains control characters")
    if "://" in model:
        raise InvalidInputError(
            f"model {model!r} is a URL; pass a hub id ('owner/name') or a local directory"
        )
    if ".." in re.split(r"[/\\]", model):
        raise InvalidInputError(f"model {model!r} contains a '..' path component; pass the normalised path")

    if is_house_name(model):
        return _resolve_house(task, model)

    path = Path(model).expanduser()
    if path.is_dir():
        return _resolve_local(path, local_roots)
    if _HUB_ID.match(model) and ".." not in model and "--" not in model:
        return ResolvedModel(model, model, "hub")
    if _looks_like_path(model):
        raise ModelUnavailableError(f"model directory {model!r} does not exist (or is not a directory)")
    raise InvalidInputError(
        f"model {model!r} is neither an existing directory nor a valid hub id "
        "('name' or 'owner/name': letters, digits, '.', '_', '-'; at most 96 characters per part)"
    )


def _resolve_house(task: str, name: str) -> ResolvedModel:
    house = HOUSE_MODELS.get(name)
    if house is None:
        raise InvalidInputError(
            f"unknown house model {name!r}; house models: {', '.join(sorted(HOUSE_MODELS))}"
        )
    if house.task != task:
        served = any(h.task == task for h in HOUSE_MODELS.values())
        raise ModelUnavailableError(
            f"{name} is a {house.task} model, not a {task} model; "
            + (f"for {task} use {house_default(task)}" if served else f"no house model serves {task}")
        )
    if not ((house.path / "config.json").is_file() or (house.path / "model_index.json").is_file()):
        raise ModelUnavailableError(
            f"house model {name} has no weights at {house.path}; they ship inside the installed package: "
            "reinstall genai-mcp, or retrain it with the script under scripts/ in the repository"
        )
    return ResolvedModel(name, str(house.path), "house")


def _resolve_local(path: Path, local_roots: Sequence[Path] | None) -> ResolvedModel:
    real = path.resolve()
    if local_roots is not None:
        roots = [Path(r).expanduser().resolve() for r in local_roots]
        if not any(real == root or real.is_relative_to(root) for root in roots):
            allowed = ", ".join(str(r) for r in roots) or "none configured"
            raise InvalidInputError(f"model directory {str(path)!r} is outside the allowed roots ({allowed})")
    return ResolvedModel(str(real), str(real), "local")


def _looks_like_path(model: str) -> bool:
    return (
        model.startswith(("/", "~", "."))
        or "\\" in model
        or model.count("/") > 1
        or bool(re.match(r"^[A-Za-z]:", model))
    )


def resolve_device(device: str | None) -> str:
    """The canonical device: "cpu", "cuda" (device 0) or "cuda:N", checked against what torch sees.

    None or "auto" picks cuda when torch sees a GPU, else cpu.
    """
    name = (device or "auto").strip().lower()
    if name == "cpu":
        return "cpu"
    match = re.fullmatch(r"cuda(?::(\d{1,3}))?", name)
    if name != "auto" and match is None:
        raise InvalidInputError(f"unknown device {device!r}; allowed: auto, cpu, cuda, cuda:N")

    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if name == "auto":
        return "cuda" if count else "cpu"
    index = int(match.group(1) or 0) if match else 0
    if index >= count:
        seen = f"{count} CUDA device(s)" if count else f"no CUDA device (torch {torch.__version__})"
        raise ModelUnavailableError(
            f"device {device!r} was requested but torch sees {seen}; use 'cpu' or 'auto'"
        )
    return "cuda" if index == 0 else f"cuda:{index}"


def resolve_dtype(dtype: str | None, device: str) -> str:
    """The canonical dtype name; None means float32 (never the checkpoint's stored dtype)."""
    if dtype is None:
        return "float32"
    name = DTYPES.get(dtype.strip().lower()) if isinstance(dtype, str) else None
    if name is None:
        raise InvalidInputError(
            f"unknown dtype {dtype!r}; allowed: {', '.join(sorted(set(DTYPES.values())))}"
        )
    if device == "cpu" and name not in _CPU_DTYPES:
        raise InvalidInputError(
            f"dtype {name} is not supported on cpu; allowed there: {', '.join(_CPU_DTYPES)}"
        )
    return name
