"""MCP tools for causal LMs: generate_text, and perplexity (an evaluation metric, documented with
the metrics tools but registered here because it runs a language model).

Both are long work: the event loop keeps answering other requests, progress goes out per token
(generation) or per window (perplexity) when the caller asked for it, and a cancelled call stops
at the next step.
"""

from __future__ import annotations

import dataclasses

from genai_mcp.server.adapters import ToolPublisher, ToolSpec
from genai_mcp.server.annotations import PURE, VARIES
from genai_mcp.server.limits import build_limits
from genai_mcp.server.settings import ServerSettings
from genai_mcp.server.state import ServerState
from genai_mcp.tools import text
from genai_mcp.tools.progress import Progress
from genai_mcp.tools.text.engine import Engine, generate_on_engine

__all__ = ["register"]

# Sampling with no seed gives a different text each time: not idempotent.
GENERATE_TEXT = ToolSpec(
    name="generate_text",
    title="Generate text (causal LM)",
    description=(
        "Continue a prompt, or answer chat messages, with a causal language model ({models.text} "
        "by default, or any local/cached Hugging Face causal LM). Greedy at temperature 0, else "
        "sampling with top-k / top-p / repetition penalty and a reproducible seed; optional stop "
        "strings. Returns the completion, token counts, finish reason (length, stop, eos, cancelled) "
        "and tokens per second. Reports progress per token; cancellable."
    ),
    request=text.GenerateTextRequest,
    result=text.GenerateTextResult,
    annotations=VARIES,
)
PERPLEXITY = ToolSpec(
    name="perplexity",
    title="Perplexity (language-model evaluation metric)",
    description=(
        "Evaluation metric: perplexity of a text under a causal language model, exp of the mean "
        "negative log-likelihood per token ({models.text} by default). Texts longer than the "
        "model's context are scored with a sliding window (stride tokens apart), each token once. "
        "Returns perplexity, mean NLL (nats) and the number of tokens scored."
    ),
    request=text.PerplexityRequest,
    result=text.PerplexityResult,
    annotations=PURE,
)


# Appended to the descriptions when an engine is configured: what a caller gets differs then.
ON_ENGINE = (
    " On this server generation runs on an OpenAI-compatible inference engine ({text.engine_flavor} "
    "flavor): `model` is the engine's name for a model (default {text.engine_model}); top_k other than "
    "50 and repetition_penalty other than 1 reach only engines that take them (else refused); "
    "truncate_prompt and use_cache=false are refused. Calls naming an adapter run in-process, as "
    "perplexity does."
)
IN_PROCESS = " It runs in-process, also where generate_text runs on an inference engine."


def engine_of(settings: ServerSettings) -> Engine | None:
    """The inference engine generate_text runs on under `settings`, or None (in-process)."""
    if not settings.text_engine_url:
        return None
    assert settings.text_engine_model is not None  # ServerSettings refuses a URL without a model
    return Engine(
        url=settings.text_engine_url,
        model=settings.text_engine_model,
        api_key=settings.text_engine_key(),
        timeout_seconds=settings.text_engine_timeout_seconds,
        flavor=settings.text_engine_flavor,
    )


def register(tools: ToolPublisher, state: ServerState) -> None:
    limits = build_limits(text.TextLimits, state.settings)
    models, adapters = state.models, state.adapters
    engine = engine_of(state.settings)

    def generate_text(request: text.GenerateTextRequest, progress: Progress) -> text.GenerateTextResult:
        if engine is not None and request.adapter is None:
            return generate_on_engine(request, engine, progress, limits=limits)
        return text.generate_text(request, progress, limits=limits, adapters=adapters, models=models)

    def perplexity(request: text.PerplexityRequest, progress: Progress) -> text.PerplexityResult:
        return text.perplexity(request, progress, limits=limits, adapters=adapters, models=models)

    if engine is None:
        tools.add_long(GENERATE_TEXT, generate_text)
        tools.add_long(PERPLEXITY, perplexity)
        return
    # An engine is reached over the network, possibly past this machine.
    on_engine = dataclasses.replace(GENERATE_TEXT, description=GENERATE_TEXT.description + ON_ENGINE)
    tools.add_long(on_engine.opening(True), generate_text)
    tools.add_long(
        dataclasses.replace(PERPLEXITY, description=PERPLEXITY.description + IN_PROCESS), perplexity
    )
