"""Loading a model with a saved LoRA adapter merged in: one more kind of ModelCache entry.

    load_adapted(task, adapter, adapters, base_model=None, *, models=None) -> ModelBundle

The base comes from the same cache (only a merge needs it) and is deep-copied before peft touches
it; an image adapter trained with new classes gets a head of that shape first (heads.py decides
exactly as training did). The adapter is merged into the copy's weights (merge_and_unload), so inference costs the same
as the base model. The merged bundle is a cache entry of its own, task "text-generation" or
"image-classification", id "<base id>+adapter:<name>", counted against the cache's bounds like
any model; its revision is the adapter's creation time and folder identity (inode, mtime), so an
adapter deleted and saved again under the same name loads afresh and replaces the old entry.

`adapters` is anything with `info(name)` and `path(name)` (SavedAdapters); tools.lora's
AdapterStore is the one the project has. This module never imports tools.lora: training depends
on the model runtime, not the reverse.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal, Protocol

from pydantic import Field

from genai_mcp.tools.errors import InvalidInputError
from genai_mcp.tools.models.bundle import LoadRequest, ModelBundle, module_nbytes
from genai_mcp.tools.models.cache import ModelCache
from genai_mcp.tools.models.heads import keeps_head, set_head
from genai_mcp.tools.models.resolve import ResolvedModel

__all__ = [
    "ADAPTER_NAME_PATTERN",
    "AdaptedTask",
    "AdapterName",
    "AdapterRef",
    "SavedAdapter",
    "SavedAdapters",
    "load_adapted",
    "peft_warnings_silenced",
]

# How a tool names a saved adapter (tools.lora saves them under these names).
ADAPTER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
AdapterName = Annotated[
    str,
    Field(
        pattern=ADAPTER_NAME_PATTERN,
        description="Adapter name: 1-64 characters, letters, digits, '.', '_' or '-', starting with a letter or digit.",
    ),
]
AdapterRef = Annotated[
    Annotated[str, Field(pattern=ADAPTER_NAME_PATTERN)] | None,
    Field(
        description=(
            "A LoRA adapter saved by lora_finetune (see the adapters://list resource), merged into its base "
            "model for this call; `model` may then be left null (it must be the adapter's base if given)."
        )
    ),
]

AdaptedTask = Literal["text-generation", "image-classification"]
logger = logging.getLogger(__name__)
_TRAINED_FOR = {"text-generation": "causal-lm", "image-classification": "image-classification"}
_USE_FOR = {"causal-lm": "text generation", "image-classification": "image classification"}


class SavedAdapter(Protocol):
    """What loading needs to know of a saved adapter (tools.lora's AdapterInfo has it)."""

    @property
    def name(self) -> str: ...
    @property
    def task(self) -> str: ...  # what it was trained for: "causal-lm" or "image-classification"
    @property
    def base_model(self) -> str: ...  # the resolved id of the model it was trained on
    @property
    def created(self) -> str: ...  # when it was saved (ISO 8601)
    @property
    def labels(self) -> list[str] | None: ...  # an image adapter's class names, in head order


class SavedAdapters(Protocol):
    """Where adapters are looked up by name (tools.lora's AdapterStore)."""

    def info(self, name: str) -> SavedAdapter:
        """The adapter; InvalidInputError naming the known ones when there is none."""
        ...

    def path(self, name: str) -> Path:
        """Its folder, as peft's save_pretrained wrote it."""
        ...


def load_adapted(
    task: AdaptedTask,
    adapter: str,
    adapters: SavedAdapters,
    base_model: str | None = None,
    *,
    models: ModelCache | None = None,
) -> ModelBundle:
    """The base model with `adapter` merged in, in eval mode, from `models` (None: default_cache()).

    `base_model` None means the adapter's own base. Raises InvalidInputError for an unknown adapter
    (naming the known ones), an adapter trained for the other task, or a base_model other than the
    adapter's; ModelUnavailableError if the base model cannot be loaded.
    """
    from genai_mcp.tools.models import default_cache

    cache = models if models is not None else default_cache()
    info = adapters.info(adapter)
    if info.task != _TRAINED_FOR[task]:
        raise InvalidInputError(
            f"adapter {adapter!r} was trained for {info.task}; use it for {_USE_FOR.get(info.task, info.task)}"
        )
    resolved = cache.resolve(task, info.base_model)
    if base_model is not None and base_model != info.base_model:
        given = cache.resolve(task, base_model).model_id
        if given != resolved.model_id:
            raise InvalidInputError(
                f"adapter {adapter!r} was trained on {info.base_model}, not {given}; leave the model null "
                "or pass that one"
            )
    folder = adapters.path(info.name)
    stat = folder.stat()
    merged = ResolvedModel(f"{resolved.model_id}+adapter:{info.name}", str(folder), resolved.source)

    def merge(request: LoadRequest) -> ModelBundle:
        # Only on a miss: a merged entry in the cache needs its base neither loaded nor recently used.
        base = cache.get(task, info.base_model, device=request.device, dtype=request.dtype)
        return _merge(base, request, info.labels)

    return cache.load(task, merged, merge, revision=f"{info.created}|{stat.st_ino}|{stat.st_mtime_ns}")


def _merge(base: ModelBundle, request: LoadRequest, labels: list[str] | None) -> ModelBundle:
    from peft import PeftModel

    started = time.perf_counter()
    model = copy.deepcopy(base.model)  # the cached base is shared: peft works on a private copy
    if labels is not None and not keeps_head(model, labels):
        set_head(model, labels, base.model_id)  # its weights come from the adapter
    with peft_warnings_silenced():
        merged = PeftModel.from_pretrained(model, request.ref).merge_and_unload()
    merged.eval()
    seconds = time.perf_counter() - started
    logger.info(
        "merged adapter %s into %s in %.2f s",
        request.model_id.rpartition("+adapter:")[2],
        base.model_id,
        seconds,
        extra={"figures": {"id": request.model_id, "base": base.model_id, "seconds": round(seconds, 3)}},
    )
    return dataclasses.replace(base, model=merged, model_id=request.model_id, nbytes=module_nbytes(merged))


@contextmanager
def peft_warnings_silenced() -> Iterator[None]:
    """Around peft calls: peft 0.21 reads `is_gradient_checkpointing`, which transformers 5 deprecates
    with a FutureWarning on every wrap; nothing for our callers to act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning
        )
        yield
