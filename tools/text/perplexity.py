"""Perplexity of a text under a causal LM: exp of the mean negative log-likelihood per token.

    perplexity(PerplexityRequest, progress=None, *, limits=TextLimits()) -> PerplexityResult

Texts longer than the model's context are scored with the sliding window of the Hugging Face
perplexity guide (docs: "Perplexity of fixed-length models"): windows of the full context start
every `stride` tokens, and each window scores only the tokens no earlier window scored. So every
token is counted once and, after the first window, sees at least context - stride tokens of left
context (the stride must be shorter than the context). The text's first token has no left context
and is not scored. Unlike the guide's `labels`-based mean loss, the NLL here is summed per token,
so each token weighs exactly once.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from genai_mcp.tools.errors import InvalidInputError
from genai_mcp.tools.models.adapted import AdapterRef
from genai_mcp.tools.progress import Progress
from genai_mcp.tools.text.lm import TextLimits, check_chars, context_length, encode, load_causal_lm

if TYPE_CHECKING:
    from genai_mcp.tools.models import ModelCache
    from genai_mcp.tools.models.adapted import SavedAdapters

__all__ = ["PerplexityRequest", "PerplexityResult", "perplexity"]


class PerplexityRequest(BaseModel):
    text: str = Field(
        min_length=1,
        description="Text to score, at least 2 tokens and at most {text.max_text_chars} characters.",
    )
    model: str | None = Field(
        None,
        description=(
            "A causal LM: '{models.text}' (default), a local directory, or a Hugging Face hub id "
            "in the local cache."
        ),
    )
    stride: int | None = Field(
        None,
        ge=1,
        description=(
            "For texts longer than the model's context: tokens between the starts of consecutive "
            "windows, less than the context length (unused when the text fits in one window). "
            "Default: half the context. A smaller stride gives each token more left context (usually "
            "a lower perplexity) at the cost of more forward passes."
        ),
    )
    adapter: AdapterRef = None


class PerplexityResult(BaseModel):
    perplexity: float = Field(description="exp(mean_nll); lower means the model finds the text likelier.")
    mean_nll: float = Field(description="Mean negative log-likelihood per scored token, nats.")
    token_count: int = Field(description="Tokens scored: all of the text's tokens but the first.")
    model: str = Field(description="The model that scored the text.")
    context_length: int = Field(description="Window size in tokens (the model's context, or the text).")
    stride: int = Field(description="Tokens between window starts.")
    windows: int = Field(description="Forward passes made.")


def perplexity(
    request: PerplexityRequest,
    progress: Progress | None = None,
    *,
    limits: TextLimits | None = None,
    adapters: SavedAdapters | None = None,
    models: ModelCache | None = None,
) -> PerplexityResult:
    """Score request.text; `progress(windows_done, windows)` after each window (it may raise
    WorkCancelledError to stop: no partial result).

    Raises LimitExceededError (text characters), InvalidInputError (fewer than 2 tokens, stride
    longer than the context), ModelUnavailableError.
    """
    import torch

    check_chars("the text's", len(request.text), limits or TextLimits())
    model_id, model, tokenizer = load_causal_lm(request.model, request.adapter, adapters, models=models)
    ids = encode(tokenizer, request.text)
    n = len(ids)
    if n < 2:
        raise InvalidInputError(
            f"the text is {n} token{'' if n == 1 else 's'} with {model_id}'s tokenizer; perplexity needs at least 2 "
            "(the first token is never scored)"
        )
    window = context_length(model) or n
    stride = request.stride if request.stride is not None else max(1, window // 2)
    if stride >= window and n > window:
        # A window's first token has no left context inside it: with stride >= window it is never scored.
        raise InvalidInputError(
            f"stride {stride} must be shorter than {model_id}'s context of {window} tokens"
        )
    windows = 1 + math.ceil(max(0, n - window) / stride)

    device = next(model.parameters()).device
    tokens = torch.tensor([ids], device=device)  # (1, n)
    nll_sum, scored, prev_end = 0.0, 0, 0
    with torch.inference_mode():
        for i, begin in enumerate(range(0, n, stride), start=1):
            end = min(begin + window, n)
            new = end - prev_end  # the window's last `new` tokens were not scored before
            x = tokens[:, begin:end]  # (1, L)
            logits = model(input_ids=x, use_cache=False).logits[0].float()  # (L, V)
            # logits[j] predicts x[j + 1]; score targets L - new .. L - 1, never position 0
            first = max(x.size(1) - new, 1) - 1
            nll_sum += torch.nn.functional.cross_entropy(
                logits[first:-1], x[0, first + 1 :], reduction="sum"
            ).item()
            scored += x.size(1) - 1 - first
            prev_end = end
            if progress is not None:
                progress(i, windows)
            if end == n:
                break
    mean_nll = nll_sum / scored
    return PerplexityResult(
        perplexity=math.exp(mean_nll),
        mean_nll=mean_nll,
        token_count=scored,
        model=model_id,
        context_length=window,
        stride=stride,
        windows=windows,
    )
