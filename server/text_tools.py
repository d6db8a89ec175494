"""MCP tools for causal LMs: generate_text, and perplexity (an evaluation metric, documented with
the metrics tools but registered here because it runs a language model).

Both are long work: the event loop keeps answering other requests, progress goes out per token
(generation) or per window (perplexity) when the caller asked for it, and a cancelled call stops
at the next step.
"""

from __future__ import annotations

from genai_mcp.server.adapters import ToolPublisher, ToolSpec
from genai_mcp.server.annotations import PURE, VARIES
from genai_mcp.server.limits import build_limits
from genai_mcp.server.state import ServerState
from genai_mcp.tools import text
from genai_mcp.tools.progress import Progress

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


def register(tools: ToolPublisher, state: ServerState) -> None:
    limits = build_limits(text.TextLimits, state.settings)
    models, adapters = state.models, state.adapters

    def generate_text(request: text.GenerateTextRequest, progress: Progress) -> text.GenerateTextResult:
        return text.generate_text(request, progress, limits=limits, adapters=adapters, models=models)

    def perplexity(request: text.PerplexityRequest, progress: Progress) -> text.PerplexityResult:
        return text.perplexity(request, progress, limits=limits, adapters=adapters, models=models)

    tools.add_long(GENERATE_TEXT, generate_text)
    tools.add_long(PERPLEXITY, perplexity)
