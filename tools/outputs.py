"""Files the server produces (generated images, for now), written atomically and pruned.

Each file is written to a temporary name in the same folder, flushed to disk, then renamed: a
crash leaves the old state or nothing, never half a PNG. Names are random (no caller text in a
path), and old files are pruned past a count or byte budget (OutputLimits), oldest first. Each
output also has a URI, `uri_prefix + name`: the prefix (a URI scheme and path) is the owner's, e.g.
the server's resource template; this module only joins and splits it.

Several servers may share the folder (replicas on one volume): each prunes by what it finds there,
and a file a peer removed meanwhile is skipped, never an error of the call that was saving.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import stat
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from genai_mcp.tools.errors import InvalidInputError, LimitExceededError
from genai_mcp.tools.limits import limit

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["OutputLimits", "OutputStore", "StoredOutput", "atomic_write_bytes"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}\.png$")


@dataclass(frozen=True)
class OutputLimits:
    """How much the store keeps before pruning the oldest outputs."""

    max_files: int = limit("outputs.max_files", 1000)
    max_bytes: int = limit("outputs.max_bytes", 512 * 2**20)


@dataclass(frozen=True)
class StoredOutput:
    name: str  # file name, also the last part of the URI
    path: Path
    nbytes: int
    uri: str  # the store's uri_prefix + name


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so readers see the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class OutputStore:
    """A folder of generated PNGs, addressed by name or by URI (`uri_prefix` + name)."""

    def __init__(self, root: Path, *, uri_prefix: str, limits: OutputLimits | None = None):
        self.root = root
        self.uri_prefix = uri_prefix
        self.limits = limits or OutputLimits()
        self._lock = threading.Lock()

    def check_room(self, what: str, count: int) -> None:
        """LimitExceededError if `count` new outputs would not all be kept until read (max_files)."""
        if count > self.limits.max_files:
            raise LimitExceededError(what, count, self.limits.max_files, setting="outputs.max_files")

    def save_png(self, image: Image, kind: str) -> StoredOutput:
        """Store `image` as PNG under a fresh name starting with `kind` (e.g. "sample")."""
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        data = buf.getvalue()
        slug = re.sub(r"[^a-z0-9]+", "-", kind.lower()).strip("-")[:40] or "image"
        name = f"{slug}-{secrets.token_hex(6)}.png"
        path = self.root / name
        atomic_write_bytes(path, data)
        self.prune(keep=name)
        return self._stored(name, path, len(data))

    def _stored(self, name: str, path: Path, nbytes: int) -> StoredOutput:
        return StoredOutput(name, path, nbytes, self.uri_prefix + name)

    def _checked_name(self, name: str) -> str:
        if not _NAME.match(name):
            raise InvalidInputError(
                f"{name!r} is not an output name this server produces (like sample-1a2b3c.png)"
            )
        return name

    def name_from_uri(self, uri: str) -> str:
        """The output name in `uri`; InvalidInputError unless it is `uri_prefix` + a well-formed name."""
        if not uri.startswith(self.uri_prefix):
            raise InvalidInputError(f"{uri!r} is not an output URI; they start with {self.uri_prefix}")
        return self._checked_name(uri[len(self.uri_prefix) :])

    def path_of(self, name: str) -> Path:
        """The file for `name`; InvalidInputError if the name is malformed or no longer kept."""
        path = self.root / self._checked_name(name)
        if not path.is_file():
            raise InvalidInputError(f"output {name!r} does not exist (it may have been pruned)")
        return path

    def read(self, name: str) -> bytes:
        try:
            return self.path_of(name).read_bytes()
        except FileNotFoundError:  # pruned between the check and the read, by a peer sharing the folder
            raise InvalidInputError(f"output {name!r} does not exist (it may have been pruned)") from None

    def stored(self) -> list[StoredOutput]:
        """Stored outputs, newest first."""
        if not self.root.is_dir():
            return []
        stats: list[tuple[Path, os.stat_result]] = []
        for p in self.root.iterdir():
            try:
                st = p.stat()
            except FileNotFoundError:
                continue  # pruned meanwhile by another server sharing this folder (a replica)
            if _NAME.match(p.name) and stat.S_ISREG(st.st_mode):
                stats.append((p, st))
        stats.sort(key=lambda ps: ps[1].st_mtime_ns, reverse=True)
        return [self._stored(p.name, p, st.st_size) for p, st in stats]

    def prune(self, keep: str | None = None) -> list[str]:
        """Delete the oldest outputs past limits.max_files / max_bytes; never the one just written."""
        removed: list[str] = []
        with self._lock:
            total = 0
            for i, out in enumerate(self.stored()):
                total += out.nbytes
                if out.name != keep and (i >= self.limits.max_files or total > self.limits.max_bytes):
                    out.path.unlink(missing_ok=True)
                    removed.append(out.name)
        return removed
