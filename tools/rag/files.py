"""Documents read from files under the configured roots: text kinds only, never outside the roots."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from genai_mcp.tools.errors import InvalidInputError, LimitExceededError
from genai_mcp.tools.paths import resolve_under_roots

__all__ = ["ALLOWED_SUFFIXES", "read_document"]

ALLOWED_SUFFIXES = (".txt", ".md", ".rst")


def read_document(raw: str, roots: Sequence[Path], max_chars: int, setting: str | None = None) -> str:
    """Text of a .txt/.md/.rst file under `roots` (tools/paths.py: symlinks must stay inside them too).

    InvalidInputError for a path outside the roots, of another kind, missing or not UTF-8;
    LimitExceededError (naming `setting`) for a file over 4 * max_chars bytes.
    """
    if Path(raw.strip()).suffix.lower() not in ALLOWED_SUFFIXES:
        raise InvalidInputError(
            f"the file {raw[:200]!r} is not a text document; allowed suffixes: {', '.join(ALLOWED_SUFFIXES)}"
        )
    real = resolve_under_roots(raw, roots, what="document")
    if not real.is_file():
        raise InvalidInputError(f"the document path {raw[:200]!r} is not a regular file")
    size = os.path.getsize(real)
    if size > 4 * max_chars:  # UTF-8: at most 4 bytes a char
        raise LimitExceededError(f"file {raw[:200]!r} size in bytes", size, 4 * max_chars, setting=setting)
    try:
        return real.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"the file {raw[:200]!r} is not UTF-8 text") from exc
