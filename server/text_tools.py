"""MCP tools for causal LMs: generate_text, and perplexity (an evaluation metric, documented with
the metrics tools but registered here because it runs a language model).

Both run in a worker thread through `run_with_progress`: the event loop keeps answering other
requests, progress goes out per token (generation) or per window (perplexity) when the caller asked
for it, and a cancelled call stops at the next step.
"""

from __future__ import annotations

import functools
from typing import Any

from mcp.server import MCPServer
from mcp.types import ToolAnnotations

from genai_mcp.server.adapters import register_long_tool
from genai_mcp.server.services import Services
from genai_mcp.tools import text

__all__ = ["register"]

# Sampling with no seed gives a different text each time: not idempotent.
GENERATION = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)
METRIC = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


def register(server: MCPServer[Any], services: Services) -> None:
    s = services.settings
    limits = text.TextLimits(
        max_new_tokens=s.max_new_tokens, max_stop_strings=s.max_stop_strings, max_text_chars=s.max_text_chars
    )
    register_long_tool(
        server,
        functools.partial(text.generate_text, limits=limits, adapters=services.adapters),
        text.GenerateTextRequest,
        text.GenerateTextResult,
        name="generate_text",
        title="Generate text (causal LM)",
        description=(
            "Continue a prompt, or answer chat messages, with a causal language model (house/gpt2-pydocs "
            "by default, or any local/cached Hugging Face causal LM). Greedy at temperature 0, else "
            "sampling with top-k / top-p / repetition penalty and a reproducible seed; optional stop "
            "strings. Returns the completion, token counts, finish reason (length, stop, eos, cancelled) "
            "and tokens per second. Reports progress per token; cancellable."
        ),
        annotations=GENERATION,
    )
    register_long_tool(
        server,
        functools.partial(text.perplexity, limits=limits, adapters=services.adapters),
        text.PerplexityRequest,
        text.PerplexityResult,
        name="perplexity",
        title="Perplexity (language-model evaluation metric)",
        description=(
            "Evaluation metric: perplexity of a text under a causal language model, exp of the mean "
            "negative log-likelihood per token (house/gpt2-pydocs by default). Texts longer than the "
            "model's context are scored with a sliding window (stride tokens apart), each token once. "
            "Returns perplexity, mean NLL (nats) and the number of tokens scored."
        ),
        annotations=METRIC,
    )
