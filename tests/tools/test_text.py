"""genai_mcp.tools.text against transformers itself, on the house GPT-2."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from genai_mcp.tools.errors import InvalidInputError, LimitExceededError, WorkCancelledError
from genai_mcp.tools.text import (
    ChatMessage,
    GenerateTextRequest,
    PerplexityRequest,
    Sampling,
    TextLimits,
    decode_tokens,
    generate_text,
    perplexity,
)

MODEL = "house/gpt2-pydocs"
PROMPT = "The for statement is used to iterate over"


def _request(**fields: Any) -> GenerateTextRequest:
    return GenerateTextRequest(model=fields.pop("model", MODEL), **fields)


@pytest.fixture(scope="module")
def lm() -> Any:
    from genai_mcp.tools.models import load_model

    return load_model("text-generation", MODEL)


def _reference(lm: Any, prompt_ids: list[int], n: int, sampling: Sampling, seed: int) -> list[int]:
    """transformers' own generate: the new token ids, sampled from the global RNG seeded with `seed`."""
    import torch

    x = torch.tensor([prompt_ids])
    options: dict[str, Any] = {"repetition_penalty": sampling.repetition_penalty}
    if not sampling.greedy:
        options.update(temperature=sampling.temperature, top_k=sampling.top_k, top_p=sampling.top_p)
    torch.manual_seed(seed)
    out = lm.model.generate(
        input_ids=x,
        attention_mask=torch.ones_like(x),
        max_new_tokens=n,
        do_sample=not sampling.greedy,
        pad_token_id=lm.processor.eos_token_id,
        **options,
    )
    return [int(t) for t in out[0, x.shape[1] :]]


@pytest.mark.parametrize(
    "sampling",
    [
        Sampling(temperature=0.0, top_k=0, top_p=1.0, repetition_penalty=1.0),
        Sampling(temperature=0.0, top_k=0, top_p=1.0, repetition_penalty=1.3),
        Sampling(temperature=0.8, top_k=20, top_p=0.9, repetition_penalty=1.2),
        Sampling(temperature=1.5, top_k=0, top_p=0.5, repetition_penalty=1.0),
    ],
    ids=["greedy", "greedy-penalty", "sample-topk-topp-penalty", "sample-hot-topp"],
)
def test_decoding_matches_transformers_generate_token_for_token(lm: Any, sampling: Sampling) -> None:
    import torch

    prompt_ids = lm.processor(PROMPT).input_ids
    generator = None if sampling.greedy else torch.Generator().manual_seed(7)
    ours = decode_tokens(lm.model, lm.processor, prompt_ids, 24, sampling, generator=generator)
    # A fresh generator seeded 7 draws exactly what the global RNG does after manual_seed(7).
    assert ours.token_ids == _reference(lm, prompt_ids, 24, sampling, seed=7)
    assert ours.text == lm.processor.decode(ours.token_ids, skip_special_tokens=True)


def test_kv_cache_changes_speed_not_tokens(lm: Any) -> None:
    greedy = Sampling(0.0, 0, 1.0, 1.0)
    ids = lm.processor(PROMPT).input_ids
    cached = decode_tokens(lm.model, lm.processor, ids, 20, greedy, use_cache=True)
    full = decode_tokens(lm.model, lm.processor, ids, 20, greedy, use_cache=False)
    assert cached.token_ids == full.token_ids


def test_stop_string_ends_the_text_just_before_it(lm: Any) -> None:
    free = generate_text(_request(prompt=PROMPT, max_new_tokens=30, temperature=0))
    stop = free.text[12:15]
    cut = free.text.find(stop)
    seen: list[tuple[int, int | None]] = []
    stopped = generate_text(
        _request(prompt=PROMPT, max_new_tokens=30, temperature=0, stop=["never there", stop]),
        lambda done, total, message=None: seen.append((done, total)),
    )
    assert (stopped.finish_reason, stopped.stop_string) == ("stop", stop)
    assert seen[-1] == (30, 30)  # progress ends complete when the text ends early
    assert stopped.text == free.text[:cut]
    assert stopped.completion_tokens < free.completion_tokens


def test_cancelling_from_progress_returns_the_text_so_far(lm: Any) -> None:
    seen: list[tuple[int, int | None]] = []

    def progress(done: int, total: int | None, message: str | None = None) -> None:
        seen.append((done, total))
        if done == 3:
            raise WorkCancelledError("enough")

    request = _request(prompt=PROMPT, max_new_tokens=40, temperature=0)
    partial = generate_text(request, progress)
    full = generate_text(request)
    assert seen == [(1, 40), (2, 40), (3, 40)]
    assert (partial.finish_reason, partial.completion_tokens) == ("cancelled", 3)
    assert full.text.startswith(partial.text) and partial.text


def test_generation_stops_at_the_context_and_long_prompts_are_refused(lm: Any) -> None:
    context = lm.model.config.n_positions
    long_ids = lm.processor("iterate over a sequence. " * context).input_ids
    assert len(long_ids) > context
    near = lm.processor.decode(long_ids[: context - 20])
    n_prompt = len(lm.processor(near).input_ids)
    assert n_prompt < context
    filled = generate_text(_request(prompt=near, max_new_tokens=200, temperature=0))
    assert filled.prompt_tokens == n_prompt
    assert filled.completion_tokens == context - n_prompt and filled.finish_reason == "length"
    with pytest.raises(LimitExceededError, match=rf"context of {context} tokens"):
        generate_text(_request(prompt=lm.processor.decode(long_ids), max_new_tokens=5))


def test_truncate_prompt_keeps_the_end_of_a_long_prompt(lm: Any) -> None:
    context = lm.model.config.n_positions
    prompt = "iterate over a sequence. " * context + "Return the"
    out = generate_text(_request(prompt=prompt, max_new_tokens=8, temperature=0.0, truncate_prompt=True))
    assert out.prompt_tokens == context - 8 and out.completion_tokens == 8
    assert out.prompt_truncated_tokens == len(lm.processor(prompt).input_ids) - (context - 8)
    # The kept tokens are the prompt's last ones: the same as asking with that tail directly.
    tail = lm.processor.decode(lm.processor(prompt).input_ids[-(context - 8) :])
    direct = generate_text(_request(prompt=tail, max_new_tokens=8, temperature=0.0))
    assert direct.text == out.text


def test_limits_are_configurable_and_named() -> None:
    limits = TextLimits(max_new_tokens=8, max_stop_strings=1, max_text_chars=10)
    cases = [
        (
            _request(prompt="x", max_new_tokens=9),
            "max_new_tokens is 9, over the limit of 8",
            "text.max_new_tokens",
        ),
        (
            _request(prompt="x", max_new_tokens=8, stop=["a", "b"]),
            "the number of stop strings is 2, over the limit of 1",
            "text.max_stop_strings",
        ),
        (
            _request(prompt="x" * 11, max_new_tokens=8),
            "characters is 11, over the limit of 10",
            "text.max_text_chars",
        ),
        (
            _request(messages=[ChatMessage(role="user", content="y" * 11)], max_new_tokens=8),
            "the messages' total length in characters is 11",
            "text.max_text_chars",
        ),
    ]
    for request, message, setting in cases:
        with pytest.raises(LimitExceededError, match=message) as refused:
            generate_text(request, limits=limits)
        assert refused.value.setting == setting and str(refused.value).endswith(
            f"limit of {refused.value.limit}"
        )
    with pytest.raises(LimitExceededError) as refused:
        perplexity(PerplexityRequest(model=MODEL, text="z" * 11), limits=limits)
    assert refused.value.setting == "text.max_text_chars"
    with pytest.raises(InvalidInputError, match="no adapters folder is configured"):
        generate_text(_request(prompt="x", adapter="mine"))


def test_chat_uses_the_template_when_the_tokenizer_has_one(lm: Any, tmp_path: Path) -> None:
    messages = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content="What is a list?"),
    ]
    # The house tokenizer's template (PLAIN_CHAT_TEMPLATE) renders the plain 'role: content' lines.
    plain = generate_text(_request(messages=messages, max_new_tokens=4, temperature=0))
    assert plain.prompt_format == "chat_template"
    rendered = "system: Be brief.\nuser: What is a list?\nassistant:"
    assert plain.prompt_tokens == len(lm.processor(rendered).input_ids)

    lm.model.save_pretrained(tmp_path)
    tokenizer = lm.processor.__class__.from_pretrained(lm.path)  # a copy: the cached one is shared
    tokenizer.chat_template = "{% for m in messages %}<{{ m.role }}> {{ m.content }}\n{% endfor %}<assistant>"
    tokenizer.save_pretrained(tmp_path)
    templated = generate_text(
        _request(messages=messages, max_new_tokens=4, temperature=0, model=str(tmp_path))
    )
    assert templated.prompt_format == "chat_template"
    expected = "<system> Be brief.\n<user> What is a list?\n<assistant>"
    assert templated.prompt_tokens == len(lm.processor(expected, add_special_tokens=False).input_ids)


def test_perplexity_of_a_short_text_is_one_forward_pass(lm: Any) -> None:
    import torch

    ids = lm.processor(PROMPT).input_ids
    with torch.no_grad():
        logits = lm.model(input_ids=torch.tensor([ids])).logits[0]
    nll = torch.nn.functional.cross_entropy(logits[:-1], torch.tensor(ids[1:])).item()
    result = perplexity(PerplexityRequest(model=MODEL, text=PROMPT))
    assert result.token_count == len(ids) - 1 and result.windows == 1
    assert result.mean_nll == pytest.approx(nll, rel=1e-5)
    assert result.perplexity == pytest.approx(math.exp(nll), rel=1e-5)


def test_sliding_window_scores_each_token_once(lm: Any) -> None:
    from genai_mcp.tools.house.corpus import load_corpus, split_corpus

    _, validation = split_corpus(load_corpus())
    long_doc = next(doc for doc in validation if len(doc) > 4000)
    text = lm.processor.decode(lm.processor(long_doc, verbose=False).input_ids[:800])
    n = len(lm.processor(text, verbose=False).input_ids)
    assert n > 700
    context = lm.model.config.n_positions
    half = perplexity(PerplexityRequest(model=MODEL, text=text))
    assert (half.stride, half.context_length, half.token_count) == (context // 2, context, n - 1)
    assert half.windows == 1 + math.ceil((n - context) / (context // 2))
    dense = perplexity(PerplexityRequest(model=MODEL, text=text, stride=context // 8))
    assert dense.token_count == n - 1 and dense.windows > half.windows
    # More left context per token: the model can only do better on held-out text, give or take.
    assert dense.mean_nll < half.mean_nll * 1.02
    with pytest.raises(InvalidInputError, match="shorter than"):
        perplexity(PerplexityRequest(model=MODEL, text=text, stride=context))
