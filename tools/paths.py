"""Paths a caller names, confined to the configured roots: `resolve_under_roots(raw, roots, what=...)`.

The rules are those of tools/images.py: a path with a `..` component is refused outright; a relative
path is looked up in each root in turn (the first that exists wins); an absolute one must lie inside
a root; and whatever it names must resolve, through symlinks, to a place inside a root.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from genai_mcp.tools.errors import InvalidInputError

__all__ = ["ROOTS", "NoSuchPathError", "is_inside", "resolve_under_roots"]

ROOTS = "files.roots"  # the setting key of the roots (tools/limits.py)


class NoSuchPathError(InvalidInputError):
    """Nothing of that name is under the roots, or there are no roots: the string may not be a path at all."""


def resolve_under_roots(raw: str, roots: Sequence[Path], *, what: str) -> Path:
    """The real (symlink-free, absolute) path that `raw` names inside one of `roots`.

    `what` names the thing in messages ("dataset", "image"). Raises InvalidInputError when there
    are no roots or the path lies outside every root (both with setting "files.roots"), for '..' or
    NUL, and when nothing of that name exists under them. Files and folders alike are returned; the
    caller checks which it needs.
    """
    shown = _short(raw)
    if not roots:
        raise NoSuchPathError(
            f"the {what} {shown} was read as a path, but no file roots are configured", setting=ROOTS
        )
    if "\x00" in raw:
        raise InvalidInputError(f"the {what} path {shown} contains a NUL character")
    path = Path(raw.strip()).expanduser()
    if ".." in path.parts:
        raise InvalidInputError(f"the {what} path {shown} contains '..'; paths must stay under the roots")
    real_roots = [r.expanduser().resolve() for r in roots]
    # A caller may spell a root as configured (perhaps through a symlink) or fully resolved.
    spelled = [*real_roots, *(r.expanduser().absolute() for r in roots)]
    allowed = ", ".join(str(r) for r in real_roots)
    candidates = [path] if path.is_absolute() else [root / path for root in real_roots]
    for candidate in candidates:
        if not is_inside(candidate.absolute(), spelled):
            raise InvalidInputError(
                f"the {what} path {shown} is outside the allowed roots ({allowed})", setting=ROOTS
            )
        if not os.path.lexists(candidate):
            continue
        real = candidate.resolve()
        if not is_inside(real, real_roots):
            raise InvalidInputError(
                f"the {what} path {shown} leads through a symlink outside the allowed roots ({allowed})"
            )
        return real
    raise NoSuchPathError(f"no {what} {shown} exists under the allowed roots ({allowed})")


def is_inside(path: Path, roots: Sequence[Path]) -> bool:
    """Whether `path` is one of `roots` or lies below one (compared as given: resolve first)."""
    return any(path == root or path.is_relative_to(root) for root in roots)


def _short(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")
