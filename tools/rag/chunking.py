"""Splitting text into chunks of at most `size` tokens of the embedding model's tokenizer.

Chunks are slices of the original text (whitespace and newlines inside a chunk kept, the ends
trimmed), and a cut falls between words (the tokenizer's words: punctuation is a word of its own)
unless one word alone is longer than a window.
"""

from __future__ import annotations

import re
from typing import Protocol

from genai_mcp.tools.errors import InvalidInputError

__all__ = ["TokenSpans", "chunk_text"]

_BLANK_LINE = re.compile(r"\n\s*\n")


class TokenSpans(Protocol):
    def spans(self, text: str) -> list[tuple[int, int, int]]:
        """(start char, end char, word index) of each token of `text`, in order."""
        ...


def chunk_text(text: str, mode: str, size: int, overlap: int, tokens: TokenSpans) -> list[str]:
    """Chunks in document order, each at most `size` tokens; text without tokens gives no chunks.

    paragraphs / lines: units (blank-line blocks / lines) are packed whole while they fit; a unit
    longer than `size` is cut into windows. tokens: windows of `size` tokens, each starting
    `overlap` tokens before the previous one ended (fewer where that would split a word).
    """
    if overlap >= size:
        raise InvalidInputError(f"overlap ({overlap}) must be smaller than chunk_size ({size})")
    if mode == "tokens":
        return _windows(text, tokens.spans(text), size, overlap)
    if mode == "paragraphs":
        units = _BLANK_LINE.split(text)
    elif mode == "lines":
        units = text.splitlines()
    else:
        raise InvalidInputError(f"unknown chunking {mode!r}; allowed: paragraphs, lines, tokens")
    chunks: list[str] = []
    packed: list[str] = []
    packed_tokens = 0
    joiner = "\n\n" if mode == "paragraphs" else "\n"
    for unit in units:
        unit = unit.strip()
        spans = tokens.spans(unit) if unit else []
        if not spans:
            continue
        if packed and packed_tokens + len(spans) > size:
            chunks.append(joiner.join(packed))
            packed, packed_tokens = [], 0
        if len(spans) > size:
            chunks.extend(_windows(unit, spans, size, overlap))
            continue
        packed.append(unit)
        packed_tokens += len(spans)
    if packed:
        chunks.append(joiner.join(packed))
    return chunks


def _windows(text: str, spans: list[tuple[int, int, int]], size: int, overlap: int) -> list[str]:
    def inside_word(i: int) -> bool:  # token i continues the word of token i - 1
        return spans[i][2] >= 0 and spans[i][2] == spans[i - 1][2]

    out: list[str] = []
    start, n = 0, len(spans)
    while start < n:
        end = min(start + size, n)
        if end < n:
            cut = end
            while cut > start and inside_word(cut):
                cut -= 1
            end = cut if cut > start else end  # one word longer than the window is cut inside
        out.append(text[spans[start][0] : spans[end - 1][1]])
        if end == n:
            break
        following = end - overlap
        while start < following < end and inside_word(following):
            following += 1
        start = following if following > start else end
    return out
