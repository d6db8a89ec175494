"""Splitting text into chunks of at most `size` words (whitespace tokens)."""

from __future__ import annotations

import re

from genai_mcp.tools.errors import InvalidInputError

__all__ = ["chunk_text"]

_BLANK_LINE = re.compile(r"\n\s*\n")


def chunk_text(text: str, mode: str, size: int, overlap: int) -> list[str]:
    """Chunks in document order, each at most `size` words; empty text gives no chunks.

    paragraphs / lines: units (blank-line blocks / lines) are packed whole while they fit; a unit
    longer than `size` is cut into windows. tokens: windows of `size` words, `overlap` shared.
    """
    if overlap >= size:
        raise InvalidInputError(f"overlap ({overlap}) must be smaller than chunk_size ({size})")
    if mode == "tokens":
        return _windows(text.split(), size, overlap)
    if mode == "paragraphs":
        units = _BLANK_LINE.split(text)
    elif mode == "lines":
        units = text.splitlines()
    else:
        raise InvalidInputError(f"unknown chunking {mode!r}; allowed: paragraphs, lines, tokens")
    chunks: list[str] = []
    packed: list[str] = []
    packed_words = 0
    joiner = "\n\n" if mode == "paragraphs" else "\n"
    for unit in units:
        words = unit.split()
        if not words:
            continue
        if packed and packed_words + len(words) > size:
            chunks.append(joiner.join(packed))
            packed, packed_words = [], 0
        if len(words) > size:
            chunks.extend(_windows(words, size, overlap))
            continue
        packed.append(unit.strip())
        packed_words += len(words)
    if packed:
        chunks.append(joiner.join(packed))
    return chunks


def _windows(words: list[str], size: int, overlap: int) -> list[str]:
    step = size - overlap
    out = []
    for start in range(0, len(words), step):
        out.append(" ".join(words[start : start + size]))
        if start + size >= len(words):
            break
    return out
