"""What generation and perplexity share: limits, loading a causal LM, its context, its tokenizer.

torch and transformers are imported by the model loader on first use, not here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from genai_mcp.tools.errors import InvalidInputError, LimitExceededError
from genai_mcp.tools.limits import limit

if TYPE_CHECKING:
    from genai_mcp.tools.models import ModelCache
    from genai_mcp.tools.models.adapted import SavedAdapters

__all__ = ["TextLimits", "check_chars", "context_length", "encode", "load_causal_lm"]


@dataclass(frozen=True)
class TextLimits:
    """What one call may ask for; each refusal carries the key of the limit it hit."""

    max_new_tokens: int = limit("text.max_new_tokens", 1024)  # tokens generated per call
    max_stop_strings: int = limit("text.max_stop_strings", 16)
    max_text_chars: int = limit("text.max_text_chars", 200_000)  # a prompt (all messages) or a scored text


def check_chars(what: str, chars: int, limits: TextLimits) -> None:
    if chars > limits.max_text_chars:
        raise LimitExceededError(
            f"{what} length in characters", chars, limits.max_text_chars, "text.max_text_chars"
        )


def load_causal_lm(
    model: str | None,
    adapter: str | None = None,
    adapters: SavedAdapters | None = None,
    *,
    models: ModelCache | None = None,
) -> tuple[str, Any, Any]:
    """(resolved model id, model in eval mode, tokenizer) from `models` (None: default_cache()); with
    `adapter`, that LoRA adapter from `adapters` merged into its base (or into `model`, which must
    then be the adapter's base).

    Raises ModelUnavailableError (unknown id, offline hub id, not a causal LM) with the fix in its
    message, InvalidInputError for an unknown adapter or one trained on another model or task.
    """
    if adapter is not None:
        if adapters is None:
            raise InvalidInputError(f"adapter {adapter!r}: no adapters folder is configured here")
        from genai_mcp.tools.models.adapted import load_adapted

        bundle = load_adapted("text-generation", adapter, adapters, model, models=models)
    else:
        from genai_mcp.tools.models import load_model

        bundle = load_model("text-generation", model, models=models)
    return bundle.model_id, bundle.model, bundle.processor


def context_length(model: Any) -> int | None:
    """Most positions the model attends over (GPT-2's n_positions), or None if its config says nothing."""
    config = model.config
    for name in ("max_position_embeddings", "n_positions", "n_ctx", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


# A fast tokenizer's Rust core refuses concurrent use while one call changes its padding/truncation
# state ("Already borrowed"); cached tokenizers are shared by every thread, so encoding takes turns.
_encode_lock = threading.Lock()


def encode(tokenizer: Any, text: str, *, special_tokens: bool = True) -> list[int]:
    """Token ids of `text`; `special_tokens` adds the model's own markers (e.g. a BOS) where it has any."""
    with _encode_lock:
        # verbose=False: no "longer than the maximum sequence length" log line; callers check the context.
        ids: list[int] = tokenizer(text, add_special_tokens=special_tokens, verbose=False)["input_ids"]
    return ids
