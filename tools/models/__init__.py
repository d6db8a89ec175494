"""The model runtime: model resolution, hub access and the one cache of loaded models.

    load_model(task, model=None, device=None, dtype=None, models=None) -> ModelBundle
    ModelCache(max_models=, max_bytes=, allow_downloads=, device=, local_roots=, hub_cache_dir=,
               defaults={task: model})   the model a call that names none gets (defaults.py)
    load_adapted(task, adapter, adapters, base_model=None, models=None) -> ModelBundle   (adapted.py)
    hub_snapshot(request) -> Path        the one way a hub id becomes a local folder (hub.py)

`model` is None (the task's default: the cache's chosen one, else the house model), a house name
("house/vit-digits"), a local directory, or a Hugging Face hub id; all of them load through the
library's own from_pretrained. Loaded models of every kind (checkpoints, sentence embedders,
rerankers, adapter-merged models) live in a ModelCache: bounded by count and bytes, least recently
used out first, one load per key however many threads ask at once. Every tools entry point that
loads a model takes `models: ModelCache | None` (None: default_cache(), a cache with plain defaults
for direct library use). With downloads off (a cache's default) a hub id loads only from the local
Hugging Face cache and fails at once when it is not there. Nothing here reads the environment.

Importing this package imports neither torch nor transformers nor diffusers; the first load does.
"""

from __future__ import annotations

import threading

from genai_mcp.tools.models.adapted import SavedAdapter, SavedAdapters, load_adapted
from genai_mcp.tools.models.bundle import LoadedInfo, LoadRequest, ModelBundle, module_nbytes
from genai_mcp.tools.models.cache import DEFAULT_MAX_BYTES, DEFAULT_MAX_MODELS, Loader, ModelCache
from genai_mcp.tools.models.hub import hub_snapshot
from genai_mcp.tools.models.resolve import TASKS, ResolvedModel, Task, house_default

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_MODELS",
    "TASKS",
    "LoadRequest",
    "LoadedInfo",
    "Loader",
    "ModelBundle",
    "ModelCache",
    "ResolvedModel",
    "SavedAdapter",
    "SavedAdapters",
    "Task",
    "default_cache",
    "house_default",
    "hub_snapshot",
    "load_adapted",
    "load_model",
    "module_nbytes",
]

_default: ModelCache | None = None
_default_lock = threading.Lock()


def default_cache() -> ModelCache:
    """A cache for direct library use, created on first call with ModelCache's plain defaults
    (6 models, 4 GiB, downloads off, device auto). A server makes its own ModelCache and passes it
    as `models=`; this one is only what `models=None` means."""
    global _default
    with _default_lock:
        if _default is None:
            _default = ModelCache()
        return _default


def load_model(
    task: Task,
    model: str | None = None,
    *,
    device: str | None = None,
    dtype: str | None = None,
    models: ModelCache | None = None,
) -> ModelBundle:
    """The loaded model for `task` from `models` (None: default_cache()); see the module docstring.

    `device`: None uses the cache's default ("auto": cuda if available, else cpu). `dtype`: None is
    float32; "bfloat16" works everywhere, "float16" only on cuda. Raises InvalidInputError for
    malformed arguments, ModelUnavailableError when the model cannot be found, fetched, or is not a
    checkpoint for `task` (the message says what to do).
    """
    return (models if models is not None else default_cache()).get(task, model, device=device, dtype=dtype)
