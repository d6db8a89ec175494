"""Causal language models: text generation and perplexity.

    generate_text(GenerateTextRequest, progress=None, *, limits=None) -> GenerateTextResult
    decode_tokens(model, tokenizer, prompt_ids, max_new_tokens, Sampling, ...) -> Decoded  (the loop)
    perplexity(PerplexityRequest, progress=None, *, limits=None) -> PerplexityResult

Both take any AutoModelForCausalLM checkpoint (house/gpt2-pydocs by default) through the model
cache. Importing this package is cheap: torch and transformers load on the first call.
"""

from __future__ import annotations

from genai_mcp.tools.text.generate import (
    ChatMessage,
    Decoded,
    FinishReason,
    GenerateTextRequest,
    GenerateTextResult,
    PromptFormat,
    decode_tokens,
    generate_text,
)
from genai_mcp.tools.text.lm import TextLimits
from genai_mcp.tools.text.perplexity import PerplexityRequest, PerplexityResult, perplexity
from genai_mcp.tools.text.sampling import Sampling

__all__ = [
    "ChatMessage",
    "Decoded",
    "FinishReason",
    "GenerateTextRequest",
    "GenerateTextResult",
    "PerplexityRequest",
    "PerplexityResult",
    "PromptFormat",
    "Sampling",
    "TextLimits",
    "decode_tokens",
    "generate_text",
    "perplexity",
]
