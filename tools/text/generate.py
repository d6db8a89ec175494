"""Text generation with a causal LM: one readable decoding loop over any AutoModelForCausalLM.

    generate_text(GenerateTextRequest, progress=None, *, limits=TextLimits()) -> GenerateTextResult

One forward pass per new token. With `use_cache` (the default) the prompt goes through once
(prefill) and each later step feeds only the newest token, reusing the attention keys and values
of everything before it; without it every step feeds the whole sequence again (quadratic, for
comparison; the tokens are the same). The next token comes from the last position's logits as in
transformers' `generate` (see sampling.py); sampling draws from a torch.Generator made for this
call, so concurrent calls never share random state and a seed always gives the same text.

Progress and cancellation (tools/progress.py): `progress(tokens_so_far, budget)` runs after every
new token. If it raises WorkCancelledError the loop stops right there and the result holds the
text so far with finish_reason "cancelled": a server raises it once its caller has cancelled, and a
direct caller cancels the same way.
"""

from __future__ import annotations

import inspect
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from genai_mcp.tools.errors import InvalidInputError, LimitExceededError, WorkCancelledError
from genai_mcp.tools.progress import Progress
from genai_mcp.tools.text.lm import TextLimits, check_chars, context_length, encode, load_causal_lm
from genai_mcp.tools.text.sampling import Sampling, next_token
from genai_mcp.tools.text.schemas import (
    ChatMessage,
    FinishReason,
    GenerateTextRequest,
    GenerateTextResult,
    PromptFormat,
)

if TYPE_CHECKING:
    import torch

    from genai_mcp.tools.models import ModelCache
    from genai_mcp.tools.models.adapted import SavedAdapters

__all__ = [
    "ChatMessage",
    "Decoded",
    "FinishReason",
    "GenerateTextRequest",
    "GenerateTextResult",
    "PromptFormat",
    "decode_tokens",
    "generate_text",
]

logger = logging.getLogger(__name__)


def generate_text(
    request: GenerateTextRequest,
    progress: Progress | None = None,
    *,
    limits: TextLimits | None = None,
    adapters: SavedAdapters | None = None,
    models: ModelCache | None = None,
) -> GenerateTextResult:
    """Continue the prompt (or answer the chat) with request.model; see the module docstring.

    `adapters`: where `request.adapter` names are looked up (LoRA adapters, e.g. an AdapterStore).
    `models`: the model cache to load from (None: default_cache()).

    Raises InvalidInputError (unknown or mismatched adapter, chat template fails), LimitExceededError
    (max_new_tokens, stop strings, prompt characters, prompt tokens within the model's context),
    ModelUnavailableError (model cannot be loaded).
    """
    import torch

    limits = limits or TextLimits()
    _check_limits(request, limits)
    model_id, model, tokenizer = load_causal_lm(request.model, request.adapter, adapters, models=models)
    prompt_ids, prompt_format = _prompt_ids(tokenizer, request)
    if not prompt_ids:
        raise InvalidInputError(f"the prompt encodes to no tokens with {model_id}'s tokenizer")
    context = context_length(model)
    budget = request.max_new_tokens
    dropped = 0
    if context is not None and request.truncate_prompt and len(prompt_ids) >= context:
        keep = max(1, context - request.max_new_tokens)
        dropped = len(prompt_ids) - keep
        prompt_ids = prompt_ids[-keep:]
        logger.warning(
            "prompt truncated to its last %d tokens (%d dropped) to fit %s's context of %d tokens",
            keep,
            dropped,
            model_id,
            context,
            extra={
                "figures": {
                    "model": model_id,
                    "dropped_tokens": dropped,
                    "kept_tokens": keep,
                    "context": context,
                }
            },
        )
    if context is not None:
        if len(prompt_ids) >= context:
            raise LimitExceededError(
                f"the prompt's length in tokens ({model_id} has a context of {context} tokens, and one "
                "must be left for the completion; truncate_prompt=true keeps its end instead)",
                len(prompt_ids),
                context - 1,
            )
        budget = min(budget, context - len(prompt_ids))

    sampling = Sampling(request.temperature, request.top_k, request.top_p, request.repetition_penalty)
    seed = None if sampling.greedy else (request.seed if request.seed is not None else secrets.randbits(32))
    generator = None
    if seed is not None:
        generator = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)

    start = time.perf_counter()
    decoded = decode_tokens(
        model,
        tokenizer,
        prompt_ids,
        budget,
        sampling,
        generator=generator,
        stop=request.stop,
        use_cache=request.use_cache,
        progress=progress,
    )
    seconds = time.perf_counter() - start
    if progress is not None and decoded.finish_reason in ("eos", "stop"):
        # Ended before the budget: say the work is complete, so a progress bar does not stop short.
        progress(budget, budget)
    return GenerateTextResult(
        text=decoded.text,
        finish_reason=decoded.finish_reason,
        stop_string=decoded.stop_string,
        prompt_tokens=len(prompt_ids),
        completion_tokens=len(decoded.token_ids),
        seconds=seconds,
        tokens_per_second=len(decoded.token_ids) / seconds if seconds > 0 else 0.0,
        model=model_id,
        seed=seed,
        prompt_format=prompt_format,
        use_cache=request.use_cache,
        prompt_truncated_tokens=dropped,
    )


@dataclass
class Decoded:
    token_ids: list[int]  # the new tokens; an eos is included when the model ended the text
    text: str  # their text: no eos, cut just before the stop string if one ended it
    finish_reason: FinishReason
    stop_string: str | None


def decode_tokens(
    model: Any,
    tokenizer: Any,
    prompt_ids: Sequence[int],
    max_new_tokens: int,
    sampling: Sampling,
    *,
    generator: torch.Generator | None = None,
    stop: Sequence[str] = (),
    use_cache: bool = True,
    progress: Progress | None = None,
) -> Decoded:
    """The decoding loop: up to `max_new_tokens` tokens after `prompt_ids`, one forward pass each.

    The caller keeps prompt + max_new_tokens within the model's context. `generator` is needed
    only for sampling. `progress(step, max_new_tokens)` runs after each token that did not end the
    text; WorkCancelledError from it ends the loop with finish_reason "cancelled".
    """
    import torch

    eos = _eos_ids(model, tokenizer)
    # transformers 5.x renames `past_key_values` to `cache` (a FutureWarning for the old name); both
    # the argument and the output attribute follow the model's own signature.
    cache_arg = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    ids = torch.tensor([list(prompt_ids)], device=next(model.parameters()).device)  # (1, T)
    new: list[int] = []
    finish: FinishReason = "length"
    stop_string = None
    past = None  # the KV cache, one position longer after each step
    step_input = ids  # (1, T) at prefill, then (1, 1) when caching
    with torch.inference_mode():
        for step in range(1, max_new_tokens + 1):
            if use_cache:
                out = model(input_ids=step_input, use_cache=True, **{cache_arg: past})
                past = getattr(out, cache_arg)
            else:
                out = model(input_ids=ids, use_cache=False)
            logits = out.logits[:, -1, :].float()  # (1, V)
            token = next_token(logits, ids, sampling, generator)  # (1, 1)
            ids = torch.cat([ids, token], dim=1)
            step_input = token
            new.append(int(token.item()))
            if new[-1] in eos:
                finish = "eos"
                break
            if stop:
                stop_string = _first_stop(_text(tokenizer, new, eos), stop)
                if stop_string is not None:
                    finish = "stop"
                    break
            if progress is not None:
                try:
                    progress(step, max_new_tokens)
                except WorkCancelledError:
                    finish = "cancelled"
                    break
    text = _text(tokenizer, new, eos)
    if stop_string is not None:
        text = text[: text.find(stop_string)]
    return Decoded(new, text, finish, stop_string)


def _text(tokenizer: Any, token_ids: list[int], eos: set[int]) -> str:
    return str(tokenizer.decode([t for t in token_ids if t not in eos], skip_special_tokens=True))


def _first_stop(text: str, stops: Sequence[str]) -> str | None:
    """The stop string that occurs earliest in `text`, if any."""
    found = [(i, s) for s in stops if (i := text.find(s)) >= 0]
    return min(found)[1] if found else None


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    # generate() stops on the generation config's eos ids (chat models often list several); the
    # tokenizer's is the fallback for checkpoints without one.
    config = getattr(model, "generation_config", None)
    eos = getattr(config, "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    if eos is None:
        return set()
    return {int(e) for e in eos} if isinstance(eos, (list, tuple)) else {int(eos)}


def _check_limits(request: GenerateTextRequest, limits: TextLimits) -> None:
    if request.max_new_tokens > limits.max_new_tokens:
        raise LimitExceededError(
            "max_new_tokens", request.max_new_tokens, limits.max_new_tokens, "text.max_new_tokens"
        )
    if len(request.stop) > limits.max_stop_strings:
        raise LimitExceededError(
            "the number of stop strings",
            len(request.stop),
            limits.max_stop_strings,
            "text.max_stop_strings",
        )
    if request.prompt is not None:
        check_chars("the prompt's", len(request.prompt), limits)
    else:
        check_chars("the messages' total", sum(len(m.content) for m in request.messages or ()), limits)


def _prompt_ids(tokenizer: Any, request: GenerateTextRequest) -> tuple[list[int], PromptFormat]:
    if request.prompt is not None:
        return encode(tokenizer, request.prompt), "text"
    messages = [m.model_dump() for m in request.messages or ()]
    if getattr(tokenizer, "chat_template", None):
        try:
            rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception as exc:  # jinja's TemplateError, or a template's own raise_exception()
            raise InvalidInputError(f"the model's chat template refused these messages: {exc}") from exc
        # The template already wrote any BOS/special markers the model expects.
        return encode(tokenizer, str(rendered), special_tokens=False), "chat_template"
    plain = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
    return encode(tokenizer, plain), "plain_chat"
