"""What the model cache hands out (ModelBundle), reports (LoadedInfo) and asks a loader for (LoadRequest)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from genai_mcp.tools.models.resolve import Source

__all__ = ["LoadRequest", "LoadedInfo", "ModelBundle", "module_nbytes"]


@dataclass(frozen=True)
class LoadRequest:
    """Everything a loader needs; the cache key is (task, model_id, device, dtype, revision)."""

    task: str  # a checkpoint task (TASKS), "sentence-embedding", "text-reranking", ...
    model_id: str  # "house/vit-digits", an absolute directory, a hub id, "<base>+adapter:<name>"
    ref: str  # the directory (house, local, package) or hub id (hub) to load from
    source: Source
    device: str  # "cpu", "cuda", "cuda:N"
    dtype: str  # "float32", "float16", "bfloat16"
    allow_downloads: bool
    hub_cache_dir: str | None = None  # None: the Hugging Face default cache
    # What tells two versions of the same id apart (a re-saved adapter); "" for checkpoints. A new
    # revision replaces the entry of the old one.
    revision: str = ""
    # The model the task's calls that name none get (for messages: "with no model, ... uses it").
    default_model: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.task, self.model_id, self.device, self.dtype, self.revision)


@dataclass
class ModelBundle:
    """A loaded model with what it needs to run. Shared by every caller of the cache: don't mutate it
    (no training, no `.to()`, no adapters in place); copy.deepcopy(bundle.model) first for that."""

    model_id: str  # what the caller asked for, resolved ("house/vit-digits", a hub id, or a directory)
    task: str
    device: str  # "cpu", "cuda", "cuda:N"
    dtype: str  # "float32" unless asked otherwise
    # torch.nn.Module in eval mode (UNet2DModel for diffusion); for a task with its own loader, the
    # thing that loader builds (an Embedder, a CrossEncoder)
    model: Any
    processor: Any | None  # image processor / CLIP-style processor / tokenizer; None for diffusion
    scheduler: Any | None  # diffusers scheduler from the checkpoint's scheduler config (diffusion only)
    source: Source
    nbytes: int  # parameter + buffer bytes (module_nbytes), what the cache's byte bound counts
    load_seconds: float  # wall time of the load, seconds
    path: str | None = None  # the directory the weights came from (a hub snapshot for hub ids), if known


@dataclass(frozen=True)
class LoadedInfo:
    """One entry of `ModelCache.loaded()`, JSON-ready through `as_dict()`."""

    id: str
    task: str
    device: str
    dtype: str
    nbytes: int
    source: Source
    load_seconds: float
    hits: int  # cache hits since it was loaded

    @property
    def model_id(self) -> str:
        return self.id

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "task": self.task,
            "device": self.device,
            "dtype": self.dtype,
            "nbytes": self.nbytes,
            "source": self.source,
            "load_seconds": round(self.load_seconds, 3),
            "hits": self.hits,
        }


def module_nbytes(module: Any) -> int:
    """Bytes held by a torch module's parameters and buffers (of every module of a diffusers
    pipeline); tied/shared tensors count once."""
    seen: set[int] = set()
    total = 0
    import torch

    parts = list(getattr(module, "components", {}).values()) if hasattr(module, "components") else [module]
    modules = [m for m in parts if isinstance(m, torch.nn.Module)] or [module]
    tensors = [t for m in modules for t in (*m.parameters(), *m.buffers())]
    for t in tensors:
        if t.data_ptr() in seen:
            continue
        seen.add(t.data_ptr())
        total += t.numel() * t.element_size()
    return total
