"""Cross-encoder reranking: score (query, passage) pairs with a sequence-classification checkpoint.

A reranker is named like any other model: a local folder, or a hub id that is read from the local
Hugging Face cache (fetched from the hub only when the model cache allows downloads). The name is
checked as every model id is (ModelCache.resolve). The checkpoint loads with AutoTokenizer +
AutoModelForSequenceClassification in float32, in eval mode, on the RAG device, never running code
of its own; a loaded reranker is an entry of the ModelCache (task "text-reranking", one per
(checkpoint, device)), bounded and listed with every other model.

A search reranks only when asked, unless the model cache has a default reranker (chosen by an
operator: ModelCache(defaults={"text-reranking": ...})); then a search that names none uses it, and
`reranker="none"` turns it off.

The relevance score of a pair:
- a head with one output (num_labels == 1, as the ms-marco cross-encoders have): that logit;
- a head with two outputs (not relevant, relevant): logit[1] - logit[0], the log-odds of label 1,
  which orders pairs as its softmax probability does.
Heads with more outputs (e.g. 3-way NLI) are refused: which label means "relevant" is not knowable.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

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
from genai_mcp.tools.models.defaults import RERANKING_TASK
from genai_mcp.tools.models.hub import first_line as _first_line
from genai_mcp.tools.models.loaders import read_json

__all__ = ["NO_RERANKER", "TASK", "CrossEncoder", "check_default", "chosen_reranker", "cross_encoder"]

TASK = RERANKING_TASK  # the model cache's task name for these entries
NO_RERANKER = "none"  # the `reranker` that turns a default reranker off
_BATCH = 16
_FALLBACK_MAX_TOKENS = 512  # BERT-style position tables; used when a checkpoint states no limit
_EXPECTS = (
    "a reranker is a cross-encoder: a transformers sequence-classification checkpoint "
    "(AutoModelForSequenceClassification, e.g. BertForSequenceClassification) with a trained head of "
    "1 output (relevance) or 2 (not relevant, relevant), and its tokenizer"
)


class CrossEncoder:
    """`score(query, texts)` -> one relevance score per text (higher: more relevant), see the module doc."""

    def __init__(self, name: str, tokenizer: Any, model: Any, device: str, max_tokens: int):
        self.name, self.device, self.max_tokens = name, device, max_tokens
        self.tokenizer, self.module = tokenizer, model
        self.num_labels = int(model.config.num_labels)
        self._run_lock = threading.Lock()

    def score(self, query: str, texts: list[str]) -> list[float]:
        """Pairs longer than `max_tokens` pieces (special tokens included) are cut, longest side first."""
        import torch

        # Batches of similar length pad little.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        scores = [0.0] * len(texts)
        with self._run_lock, torch.inference_mode():
            for start in range(0, len(texts), _BATCH):
                ids = order[start : start + _BATCH]
                batch = self.tokenizer(
                    [query] * len(ids),
                    [texts[i] for i in ids],
                    padding=True,
                    truncation=True,
                    max_length=self.max_tokens,
                    return_tensors="pt",
                ).to(self.device)
                logits = self.module(**batch).logits.float()  # (B, num_labels)
                relevance = logits[:, 0] if self.num_labels == 1 else logits[:, 1] - logits[:, 0]
                for i, value in zip(ids, relevance.cpu().tolist(), strict=True):
                    scores[i] = float(value)
        return scores


def chosen_reranker(name: str | None, models: ModelCache | None = None) -> str | None:
    """The reranker a search asking for `name` uses: `name`; None: the cache's default reranker
    (none unless one was chosen); NO_RERANKER: none. Nothing is loaded."""
    if name == NO_RERANKER:
        return None
    return (models if models is not None else default_cache()).default(TASK) if name is None else name


def cross_encoder(
    name: str | None, device: str | None = None, *, models: ModelCache | None = None
) -> CrossEncoder:
    """The loaded reranker `name` (a local folder or a hub id; None: the cache's default reranker)
    on `device` (a resolved device; None: the cache's default), from `models` (None: default_cache()).

    InvalidInputError for a malformed name, or None where the cache has no default reranker;
    ModelUnavailableError when it cannot be found in the local cache (or fetched, when the cache
    allows downloads) or is not a cross-encoder (for a chosen default, with its setting key).
    Messages name the reranker.
    """
    cache = models if models is not None else default_cache()
    with cache.using_default(TASK, name) as chosen:
        if chosen is None or chosen == NO_RERANKER:
            raise InvalidInputError("no reranker is named and there is no default reranker")
        loaded: CrossEncoder = cache.load(TASK, _resolve(chosen, cache), _load, device=device).model
    return loaded


def check_default(models: ModelCache) -> None:
    """Whether the cache's default reranker (if it has one) can load, judged from its files without
    loading weights: ModelUnavailableError naming its setting key if it cannot."""
    if models.default(TASK) is None:
        return
    with models.using_default(TASK, None) as chosen:
        assert chosen is not None
        models.check(TASK, _resolve(chosen, models), _folder_problem)


def _folder_problem(folder: Path) -> str | None:
    config = read_json(folder / "config.json")
    if "model_type" not in config:
        return f"has no transformers config.json; {_EXPECTS}"
    archs = [str(a) for a in config.get("architectures") or []]
    if archs and not any(a.endswith("ForSequenceClassification") for a in archs):
        return f"is a {config['model_type']} checkpoint ({archs[0]}), not a cross-encoder; {_EXPECTS}"
    labels = len(config.get("id2label") or {}) or config.get("num_labels")
    if labels not in (None, 1, 2):
        return f"has a head of {labels} outputs, so no one of them is a relevance score; {_EXPECTS}"
    return None


def _resolve(name: str, cache: ModelCache) -> ResolvedModel:
    if is_house_name(name):
        raise InvalidInputError(f"reranker {name!r}: house models are not cross-encoders; {_EXPECTS}")
    try:
        return cache.resolve(TASK, name)
    except (InvalidInputError, ModelUnavailableError) as exc:
        raise type(exc)(f"reranker: {exc}", setting=exc.setting) from exc


def _load(request: LoadRequest) -> ModelBundle:
    """The cache's loader for TASK."""
    if request.source == "hub":
        path = hub_snapshot(request, what="reranker", argument="reranker")
    else:
        path = Path(request.ref)
    encoder = _cross_encoder(request.model_id, path, request.device)
    return ModelBundle(
        model_id=request.model_id,
        task=TASK,
        device=request.device,
        dtype=request.dtype,
        model=encoder,
        processor=encoder.tokenizer,
        scheduler=None,
        source=request.source,
        nbytes=module_nbytes(encoder.module),
        load_seconds=0.0,
        path=str(path),
    )


def _cross_encoder(model_id: str, path: Path, device: str) -> CrossEncoder:
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    if not (path / "config.json").is_file():
        raise ModelUnavailableError(f"reranker {model_id!r} is not a checkpoint (no config.json); {_EXPECTS}")
    try:
        config = AutoConfig.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelUnavailableError(
            f"reranker {model_id!r} has no usable transformers config ({_first_line(exc)}); {_EXPECTS}"
        ) from exc
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING

    if type(config) not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING:
        archs = ", ".join(getattr(config, "architectures", None) or []) or "no architecture stated"
        raise ModelUnavailableError(
            f"reranker {model_id!r} is a {config.model_type} checkpoint ({archs}), not a "
            f"sequence-classification architecture; {_EXPECTS}"
        )
    if config.num_labels not in (1, 2):
        raise ModelUnavailableError(
            f"reranker {model_id!r} has a head of {config.num_labels} outputs "
            f"({', '.join(map(str, config.id2label.values()))}), so no one of them is a relevance score; "
            f"{_EXPECTS}"
        )
    try:
        model, info = AutoModelForSequenceClassification.from_pretrained(
            str(path), dtype=torch.float32, local_files_only=True, output_loading_info=True
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelUnavailableError(
            f"reranker {model_id!r} cannot load: {_first_line(exc)}; {_EXPECTS}"
        ) from exc
    # A head the checkpoint lacks was initialised at random: a plain encoder would rank by noise.
    missing = sorted(info.get("missing_keys") or ())
    if missing:
        raise ModelUnavailableError(
            f"reranker {model_id!r} has no trained classification head (missing {', '.join(missing[:3])}): "
            f"it is an encoder, not a cross-encoder; {_EXPECTS}"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelUnavailableError(
            f"reranker {model_id!r} has no usable tokenizer ({_first_line(exc)}); {_EXPECTS}"
        ) from exc
    return CrossEncoder(model_id, tokenizer, model.to(device).eval(), device, _max_tokens(config, tokenizer))


def _max_tokens(config: Any, tokenizer: Any) -> int:
    """The smaller of the tokenizer's stated limit and the position table, when each is sane."""
    limits = [
        int(v)
        for v in (
            getattr(tokenizer, "model_max_length", None),
            getattr(config, "max_position_embeddings", None),
        )
        if isinstance(v, int) and 0 < v <= 100_000
    ]
    return min(limits) if limits else _FALLBACK_MAX_TOKENS
