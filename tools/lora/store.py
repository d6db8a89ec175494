"""Adapters on disk: one folder per adapter under a root, written atomically.

    <root>/<name>/adapter_config.json, adapter_model.safetensors   peft's save_pretrained
    <root>/<name>/README.md                                        a short model card
    <root>/<name>/genai_mcp.json                                   AdapterInfo (how it was made)

A save fills a temporary folder `<root>/.tmp-<name>-<host>-<pid>-<random>` (same filesystem, so
the final os.rename is atomic) and renames it to `<root>/<name>` only once every file is written and
flushed. A failure, a cancel or a killed process therefore leaves at most a dot-folder, which list()
never shows and clean_stale() removes; an adapter that exists is never replaced or touched.

Several servers may share the root, on one machine or on several (a volume every replica mounts).
`<host>` tags the machine whose process writes the folder: a pid means something only there. So
clean_stale() removes a temp folder of this machine once its process is gone, and one of another
machine only when nothing in it has changed for STALE_ELSEWHERE_S (a save writes its files within
seconds of starting; a folder untouched that long belongs to a process that died). Deleting
renames the folder to a temporary name first, so a half-deleted adapter is never listed either.
Each adapter also has a URI, `uri_prefix + name`, whose scheme is the store owner's (a server's
resource template).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from genai_mcp.tools.errors import InvalidInputError
from genai_mcp.tools.lora.schemas import ADAPTER_NAME_PATTERN, AdapterInfo

__all__ = ["HOST_TAG", "INFO_FILE", "STALE_ELSEWHERE_S", "TEMP_PREFIX", "AdapterStore"]

INFO_FILE = "genai_mcp.json"
TEMP_PREFIX = ".tmp-"
STALE_ELSEWHERE_S = 3600.0  # another machine's temp folder untouched this long is a dead save's
# This machine's tag in temp names: hex, so it never holds the "-" the name is split on.
HOST_TAG = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_NAME = re.compile(ADAPTER_NAME_PATTERN)

# Temp folders this process is writing right now: clean_stale() must not pull them from under a save.
_active: set[Path] = set()
_active_lock = threading.Lock()


class AdapterStore:
    """The adapters under `root` (created on first save), addressed by name or by `uri(name)`.
    Safe to share between threads."""

    def __init__(self, root: Path, *, uri_prefix: str) -> None:
        self.root = Path(root)
        self.uri_prefix = uri_prefix
        self._lock = threading.Lock()  # serialises the exists-check + rename of saves and deletes

    def uri(self, name: str) -> str:
        """The URI of the adapter `name` (uri_prefix + name); InvalidInputError for a malformed name."""
        self.path(name)
        return self.uri_prefix + name

    def list(self) -> list[AdapterInfo]:
        """Every readable adapter, sorted by name; temp folders and folders without a valid
        genai_mcp.json are skipped."""
        if not self.root.is_dir():
            return []
        found = []
        for entry in sorted(self.root.iterdir(), key=lambda p: p.name):
            if entry.name.startswith(".") or not _NAME.fullmatch(entry.name) or not entry.is_dir():
                continue
            info = _read_info(entry)
            if info is not None:
                found.append(info)
        return found

    def info(self, name: str) -> AdapterInfo:
        """The adapter's AdapterInfo; InvalidInputError naming the known adapters if there is none."""
        info = _read_info(self.path(name))
        if info is None:
            known = ", ".join(a.name for a in self.list()) or "none yet (LoRA fine-tuning makes them)"
            raise InvalidInputError(f"no adapter named {name!r}; known adapters: {known}")
        return info

    def path(self, name: str) -> Path:
        """The adapter's folder (it may not exist). InvalidInputError for a malformed name."""
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InvalidInputError(
                f"adapter name {name!r} is not valid: use 1-64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        return self.root / name

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def save(self, name: str, write: Callable[[Path], None], info: AdapterInfo) -> Path:
        """Write an adapter atomically and return its folder.

        `write(tmp)` fills a fresh empty folder; then genai_mcp.json (`info` with name and
        size_bytes, the bytes of every other file, filled in) is added and the folder is renamed to
        `<root>/<name>`. On any exception the temp folder is removed and re-raised; nothing becomes
        visible. InvalidInputError if `name` exists (checked before writing and again at the rename).
        """
        final = self.path(name)
        if final.exists():
            raise InvalidInputError(f"an adapter named {name!r} already exists; choose another name")
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / _temp_name(name)
        tmp.mkdir()
        with _active_lock:
            _active.add(tmp)
        try:
            write(tmp)
            size = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file())
            data = info.model_copy(update={"name": name, "size_bytes": size}).model_dump_json(indent=2)
            (tmp / INFO_FILE).write_text(data + "\n", encoding="utf-8")
            _fsync_tree(tmp)
            with self._lock:
                # os.rename replaces an *empty* directory on POSIX: refuse any existing entry first.
                if final.exists():
                    raise InvalidInputError(f"an adapter named {name!r} already exists; choose another name")
                try:
                    os.rename(tmp, final)
                except OSError as exc:  # created by another process in between (ENOTEMPTY / EEXIST)
                    raise InvalidInputError(
                        f"an adapter named {name!r} already exists; choose another name"
                    ) from exc
            _fsync_dir(self.root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            with _active_lock:
                _active.discard(tmp)
        return final

    def delete(self, name: str) -> None:
        """Remove the adapter; InvalidInputError naming the known adapters if there is none."""
        self.info(name)
        doomed = self.root / _temp_name(name)
        with self._lock:
            try:
                os.rename(self.path(name), doomed)  # gone from list() at once, even if rmtree is cut short
            except FileNotFoundError:  # another server sharing the data directory deleted it first
                raise InvalidInputError(f"adapter {name!r} was deleted meanwhile") from None
        shutil.rmtree(doomed, ignore_errors=True)

    def clean_stale(self) -> int:
        """Remove temp folders no running save is writing (a killed process's leftovers); the count.

        Those of this machine once their process is gone; those of another machine sharing the
        root once untouched for STALE_ELSEWHERE_S (its pids cannot be checked from here)."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for entry in self.root.iterdir():
            if not entry.name.startswith(TEMP_PREFIX) or not entry.is_dir():
                continue
            with _active_lock:
                if entry in _active:
                    continue
            host, pid = _writer_of(entry.name)
            if host == HOST_TAG:
                if pid != os.getpid() and _alive(pid):
                    continue  # another live process (a second server on this data dir) may be writing it
            elif time.time() - _last_change(entry) < STALE_ELSEWHERE_S:
                continue  # maybe a save in progress on another machine
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
        return removed


def _read_info(folder: Path) -> AdapterInfo | None:
    try:
        info = AdapterInfo.model_validate_json((folder / INFO_FILE).read_bytes())
    except (OSError, ValidationError):
        return None
    # The folder name is the adapter's name, whatever the file says (e.g. after a manual rename).
    return info if info.name == folder.name else info.model_copy(update={"name": folder.name})


def _temp_name(name: str) -> str:
    return f"{TEMP_PREFIX}{name}-{HOST_TAG}-{os.getpid()}-{secrets.token_hex(4)}"


def _writer_of(temp_name: str) -> tuple[str | None, int]:
    """(machine tag, pid) of the process that named a temp folder; (None, 0) when unreadable."""
    parts = temp_name.rsplit("-", 3)
    if len(parts) == 4 and re.fullmatch(r"[0-9a-f]{8}", parts[1]) and parts[2].isdigit():
        return parts[1], int(parts[2])
    return None, 0


def _last_change(folder: Path) -> float:
    """The newest modification time of the folder or anything in it; now, if a peer removed it meanwhile."""
    newest = 0.0
    try:
        for entry in [folder, *folder.rglob("*")]:
            newest = max(newest, entry.stat().st_mtime)
    except FileNotFoundError:
        return time.time()
    return newest


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_tree(folder: Path) -> None:
    # A rename is atomic, but without a flush a power cut could still show the name with empty files.
    for f in folder.rglob("*"):
        if f.is_file():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the rename is still atomic
    finally:
        os.close(fd)
