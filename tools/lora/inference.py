"""A saved adapter merged into its base model, ready for generate_text / classify_image.

    load_adapted(task, adapter, store, base_model=None) -> ModelBundle

The base comes from the shared model cache and is deep-copied before peft touches it; an image
adapter trained with new classes gets a head of that shape first (peft_setup decides exactly as
training did). The adapter is merged into the copy's weights (merge_and_unload), so inference costs
the same as the base model. The merged bundles live in a small LRU keyed by the adapter's name,
creation time and file identity, so an adapter deleted and saved again under the same name is
loaded afresh.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections import OrderedDict
from typing import Literal

from genai_mcp.tools.errors import InvalidInputError
from genai_mcp.tools.lora.store import INFO_FILE, AdapterStore
from genai_mcp.tools.models import ModelBundle

__all__ = ["MAX_MERGED", "clear_adapted", "load_adapted"]

InferenceTask = Literal["text-generation", "image-classification"]
MAX_MERGED = 2  # merged models kept; each is a full copy of its base
_TRAINED_FOR = {"text-generation": "causal-lm", "image-classification": "image-classification"}
_TOOL_FOR = {"causal-lm": "generate_text", "image-classification": "classify_image"}

_merged: OrderedDict[tuple[object, ...], ModelBundle] = OrderedDict()
_lock = threading.Lock()  # held while loading too: one merge at a time, never the same one twice


def load_adapted(
    task: InferenceTask, adapter: str, store: AdapterStore, base_model: str | None = None
) -> ModelBundle:
    """The base model with `adapter` merged in, in eval mode; model_id "<base>+adapter:<name>".

    `base_model` None means the adapter's own base. Raises InvalidInputError for an unknown adapter
    (naming the known ones), an adapter trained for the other task, or a base_model other than the
    adapter's; ModelUnavailableError if the base model cannot be loaded.
    """
    from genai_mcp.tools.models import load_model

    info = store.info(adapter)
    if info.task != _TRAINED_FOR[task]:
        raise InvalidInputError(
            f"adapter {adapter!r} was trained for {info.task}; use it with {_TOOL_FOR[info.task]}"
        )
    base = load_model(task, info.base_model)
    if base_model is not None and base_model != info.base_model:
        given = load_model(task, base_model).model_id
        if given != base.model_id:
            raise InvalidInputError(
                f"adapter {adapter!r} was trained on {info.base_model}, not {given}; leave the model null "
                "or pass that one"
            )
    path = store.path(info.name)
    stat = (path / INFO_FILE).stat()
    key = (task, info.name, info.created, base.device, base.dtype, stat.st_ino, stat.st_mtime_ns)
    with _lock:
        if key in _merged:
            _merged.move_to_end(key)
            return _merged[key]
        bundle = _merge(base, str(path), info.name, info.labels)
        _merged[key] = bundle
        while len(_merged) > MAX_MERGED:
            _merged.popitem(last=False)
        return bundle


def clear_adapted() -> None:
    """Drop every cached merged model (tests; freeing memory)."""
    with _lock:
        _merged.clear()


def _merge(base: ModelBundle, path: str, name: str, labels: list[str] | None) -> ModelBundle:
    from peft import PeftModel

    from genai_mcp.tools.lora import peft_setup
    from genai_mcp.tools.models.bundle import module_nbytes

    model = copy.deepcopy(base.model)
    if labels is not None and not peft_setup.keeps_head(model, labels):
        peft_setup.set_head(model, labels, base.model_id)  # its weights come from the adapter
    with peft_setup.peft_warnings_silenced():
        merged = PeftModel.from_pretrained(model, path).merge_and_unload()
    merged.eval()
    return dataclasses.replace(
        base, model=merged, model_id=f"{base.model_id}+adapter:{name}", nbytes=module_nbytes(merged)
    )
