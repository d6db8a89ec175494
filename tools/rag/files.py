"""Documents read from files under the configured roots: text kinds only, never outside the roots."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from genai_mcp.tools.errors import InvalidInputError, LimitExceededError

__all__ = ["ALLOWED_SUFFIXES", "read_document"]

ALLOWED_SUFFIXES = (".txt", ".md", ".rst")


def read_document(raw: str, roots: Sequence[Path], max_chars: int, setting: str | None = None) -> str:
    """Text of a .txt/.md/.rst file under `roots` (symlinks must stay inside them too).

    InvalidInputError for a path outside the roots, of another kind, missing or not UTF-8;
    LimitExceededError (naming `setting`) for a file over 4 * max_chars bytes.
    """
    if not roots:
        raise InvalidInputError("no file roots are configured (set GENAI_MCP_ROOTS); send the text inline")
    path = Path(raw).expanduser()
    if "\x00" in raw or ".." in path.parts:
        raise InvalidInputError(
            f"the path {raw[:200]!r} contains '..' or NUL; paths must stay under the roots"
        )
    if path.suffix.lower() not in ALLOWED_SUFFIXES:
        raise InvalidInputError(
            f"the file {raw[:200]!r} is not a text document; allowed suffixes: {', '.join(ALLOWED_SUFFIXES)}"
        )
    real_roots = [r.expanduser().resolve() for r in roots]
    allowed = ", ".join(str(r) for r in real_roots)
    candidates = [path] if path.is_absolute() else [root / path for root in real_roots]
    for candidate in candidates:
        real = candidate.resolve()
        if not any(real.is_relative_to(root) for root in real_roots):
            raise InvalidInputError(f"the path {raw[:200]!r} is outside the allowed roots ({allowed})")
        if real.is_file():
            if os.path.getsize(real) > 4 * max_chars:  # UTF-8: at most 4 bytes a char
                raise LimitExceededError(
                    f"file {raw!r} size in bytes",
                    os.path.getsize(real),
                    4 * max_chars,
                    setting=setting,
                )
            try:
                return real.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidInputError(f"the file {raw[:200]!r} is not UTF-8 text") from exc
    raise InvalidInputError(f"no file {raw[:200]!r} under the allowed roots ({allowed})")
