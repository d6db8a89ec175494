"""Model resolution and the in-process model cache.

    load_model(task, model=None, device=None, dtype=None) -> ModelBundle

`model` is None (the house model for `task`), a house name ("house/vit-digits"), a local
directory, or a Hugging Face hub id; all of them load through the library's own from_pretrained.
Loaded models live in a process-wide ModelCache (bounded by count and bytes, least recently used
out first, one load per key however many threads ask at once). Hub access is off unless
downloads are allowed (configure(allow_downloads=True) or GENAI_MCP_ALLOW_DOWNLOADS=1): a hub
id then loads only from the local Hugging Face cache and fails at once when it is not there.

Importing this package imports neither torch nor transformers nor diffusers; the first load does.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

from genai_mcp.tools.errors import InvalidInputError
from genai_mcp.tools.models.bundle import LoadedInfo, LoadRequest, ModelBundle
from genai_mcp.tools.models.cache import DEFAULT_MAX_BYTES, DEFAULT_MAX_MODELS, Loader, ModelCache
from genai_mcp.tools.models.resolve import TASKS, Task, house_default

__all__ = [
    "TASKS",
    "LoadRequest",
    "LoadedInfo",
    "Loader",
    "ModelBundle",
    "ModelCache",
    "Task",
    "configure",
    "default_cache",
    "house_default",
    "load_model",
]

_UNSET: object = object()
_default: ModelCache | None = None
_default_lock = threading.Lock()


def default_cache() -> ModelCache:
    """The process-wide cache, created on first use from GENAI_MCP_ALLOW_DOWNLOADS, GENAI_MCP_DEVICE,
    GENAI_MCP_CACHE_MAX_MODELS and GENAI_MCP_CACHE_MAX_BYTES (defaults: off, auto, 6, 4 GiB)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = ModelCache(
                max_models=_env_int("GENAI_MCP_CACHE_MAX_MODELS", DEFAULT_MAX_MODELS),
                max_bytes=_env_int("GENAI_MCP_CACHE_MAX_BYTES", DEFAULT_MAX_BYTES),
                allow_downloads=os.environ.get("GENAI_MCP_ALLOW_DOWNLOADS", "").strip().lower()
                in ("1", "true", "yes", "on"),
                device=os.environ.get("GENAI_MCP_DEVICE", "").strip() or "auto",
            )
        return _default


def configure(
    *,
    max_models: int | None = None,
    max_bytes: int | None = None,
    allow_downloads: bool | None = None,
    device: str | None = None,
    local_roots: Sequence[str | Path] | object | None = _UNSET,
    hub_cache_dir: str | Path | object | None = _UNSET,
) -> ModelCache:
    """Set the default cache's bounds and defaults (None / omitted: unchanged) and return it.

    `device`: "auto", "cpu", "cuda" or "cuda:N". `local_roots`: folders local model directories must
    lie in (None: anywhere). `hub_cache_dir`: the Hugging Face cache to read (None: its default).
    """
    cache = default_cache()
    cache.configure(
        max_models=max_models, max_bytes=max_bytes, allow_downloads=allow_downloads, device=device
    )
    if local_roots is not _UNSET:
        cache.local_roots = local_roots  # type: ignore[assignment]  # the sentinel is excluded above
    if hub_cache_dir is not _UNSET:
        cache.hub_cache_dir = hub_cache_dir  # type: ignore[assignment]
    return cache


def load_model(
    task: Task, model: str | None = None, *, device: str | None = None, dtype: str | None = None
) -> ModelBundle:
    """The loaded model for `task` from the default cache; see the module docstring for `model`.

    `device`: None uses the cache's default ("auto": cuda if available, else cpu). `dtype`: None is
    float32; "bfloat16" works everywhere, "float16" only on cuda. Raises InvalidInputError for
    malformed arguments, ModelUnavailableError when the model cannot be found, fetched, or is not a
    checkpoint for `task` (the message says what to do).
    """
    return default_cache().get(task, model, device=device, dtype=dtype)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInputError(f"{name} must be a whole number, not {raw!r}") from None
    if value < 1:
        raise InvalidInputError(f"{name} must be at least 1, not {value}")
    return value
