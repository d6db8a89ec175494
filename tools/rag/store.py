"""Collections on disk: FAISS for dense vectors, SQLite for chunk text and FTS5 bm25 keyword search.

The embedded default (no database needed); store_pg.py keeps the same collections, with the same
rules, in PostgreSQL for replicas on several machines (collections.py: what both provide).

Layout of `<root>/<collection>/`:

    meta.sqlite          documents, chunks, chunks_fts (FTS5), meta(generation, model, dimensions, uid)
    index-<gen>.faiss    IndexIDMap(IndexFlatIP) over unit vectors; ids are chunk ids

A write embeds first (slow, outside any lock), then in one SQLite transaction replaces the chunks,
writes the whole new FAISS index as `index-<gen+1>.faiss` (temp file, fsync, rename) and sets the
generation to gen+1 before COMMIT. SQLite's generation names the current index file, so a crash
anywhere before COMMIT leaves the previous generation current and intact; a file of a generation
that never committed is ignored and removed by the next write.

Searches keep each collection's current index in memory (a few collections, least recently used
out), keyed by the collection's uid, its generation and the file's identity, so a write by any
process is seen at once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genai_mcp.tools.errors import InvalidInputError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["Chunk", "CollectionState", "FailPoint", "RagStore", "StoredChunk", "no_collection", "other_model"]

# Called with a stage name at each step of a write; raising there aborts the write (crash tests).
FailPoint = Callable[[str], None]

_INDEXES_KEPT = 8

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (id TEXT PRIMARY KEY, chunks INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id TEXT NOT NULL REFERENCES documents(id),
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_document ON chunks(document_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(text, tokenize = 'unicode61');
"""


@dataclass(frozen=True)
class Chunk:
    document_id: str
    ordinal: int
    text: str


@dataclass(frozen=True)
class StoredChunk:
    id: int
    document_id: str
    ordinal: int
    text: str


@dataclass(frozen=True)
class CollectionState:
    name: str
    generation: int
    model: str
    dimensions: int
    documents: int
    chunks: int


def no_collection(name: str, known: str) -> InvalidInputError:
    """The refusal of a read of a collection that does not exist, the same from every store."""
    return InvalidInputError(f"no collection named {name!r} (collections: {known})")


def other_model(name: str, built: str, asked: str) -> InvalidInputError:
    """The refusal of a write with another embedding model than the collection's, from every store."""
    return InvalidInputError(
        f"collection {name!r} was built with the embedding model {built!r}; "
        f"index into it with that model, or use a new collection for {asked!r}"
    )


class RagStore:
    """All collections under `root`; safe to share between threads, and between processes for reads."""

    def __init__(self, root: Path):
        self.root = root
        self._write_lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._indexes: OrderedDict[str, tuple[tuple[str, int, int, int, int], Any]] = OrderedDict()

    @property
    def location(self) -> str:
        return str(self.root)

    # ---- reading

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "meta.sqlite").is_file())

    def exists(self, name: str) -> bool:
        return (self.root / name / "meta.sqlite").is_file()

    def state(self, name: str) -> CollectionState:
        with self._read(name) as db:
            return self._state(db, name)

    def documents(self, name: str, limit: int) -> list[tuple[str, int]]:
        """(document id, chunk count) of at most `limit` documents, by id."""
        with self._read(name) as db:
            rows = db.execute("SELECT id, chunks FROM documents ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [(str(r[0]), int(r[1])) for r in rows]

    def chunks(self, name: str, ids: Sequence[int]) -> dict[int, StoredChunk]:
        with self._read(name) as db:
            marks = ",".join("?" * len(ids))
            rows = db.execute(
                f"SELECT id, document_id, ordinal, text FROM chunks WHERE id IN ({marks})", list(ids)
            ).fetchall()
        return {r[0]: StoredChunk(*r) for r in rows}

    def dense(self, name: str, query: npt.NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        """(chunk id, cosine) best first, at most k."""
        with self._read(name) as db:
            generation = self._state(db, name).generation
            if generation == 0:
                return []
            row = db.execute("SELECT value FROM meta WHERE key = 'uid'").fetchone()
            # Inside the read transaction: no writer can commit, so none removes this file meanwhile.
            index = self._current_index(name, generation, row[0] if row else "")
        if index.ntotal == 0:
            return []
        scores, ids = index.search(query.reshape(1, -1), min(k, index.ntotal))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def keyword(self, name: str, terms: list[str], k: int) -> list[tuple[int, float]]:
        """(chunk id, -bm25) best first, at most k; any of `terms` may match."""
        if not terms:
            return []
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        with self._read(name) as db:
            rows = db.execute(
                "SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? "
                "ORDER BY bm25(chunks_fts) LIMIT ?",
                (match, k),
            ).fetchall()
        return [(int(r[0]), -float(r[1])) for r in rows]

    # ---- writing

    def upsert(
        self,
        name: str,
        model: str,
        dimensions: int,
        documents: Sequence[tuple[str, list[Chunk], npt.NDArray[np.float32]]],
        *,
        fail_point: FailPoint | None = None,
    ) -> tuple[CollectionState, dict[str, int]]:
        """Replace each document's chunks (and vectors); returns the new state and the chunks replaced."""
        import numpy as np

        hook = fail_point or (lambda stage: None)
        with self._write(name, create=True) as (db, index_of):
            state = self._state(db, name)
            if state.model and state.model != model:
                raise other_model(name, state.model, model)
            dim = state.dimensions or dimensions
            index = index_of(dim)
            replaced: dict[str, int] = {}
            for document_id, chunks, vectors in documents:
                replaced[document_id] = max(0, _remove_document(db, index, document_id))
                db.execute("INSERT INTO documents (id, chunks) VALUES (?, ?)", (document_id, len(chunks)))
                ids = []
                for chunk in chunks:
                    cur = db.execute(
                        "INSERT INTO chunks (document_id, ordinal, text) VALUES (?, ?, ?)",
                        (document_id, chunk.ordinal, chunk.text),
                    )
                    assert cur.lastrowid is not None
                    ids.append(cur.lastrowid)
                    db.execute(
                        "INSERT INTO chunks_fts (rowid, text) VALUES (?, ?)", (cur.lastrowid, chunk.text)
                    )
                if ids:
                    index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))
                hook("rows_written")
            _set_meta(db, model=model, dimensions=dim)
            if state.generation == 0:
                _set_meta(db, uid=uuid.uuid4().hex)
            self._commit_index(db, name, index, state.generation + 1, hook)
            return self._state(db, name), replaced

    def delete_documents(self, name: str, document_ids: Sequence[str]) -> tuple[list[str], CollectionState]:
        """Remove documents; returns the ids that were present and the new state."""
        with self._write(name, create=False) as (db, index_of):
            state = self._state(db, name)
            index = index_of(state.dimensions)
            present = [d for d in document_ids if _remove_document(db, index, d) >= 0]
            if present:
                self._commit_index(db, name, index, state.generation + 1, lambda stage: None)
            return present, self._state(db, name)

    def close(self) -> None:
        """Nothing to let go of: every call opens and closes its own SQLite connection."""

    def drop(self, name: str) -> None:
        with self._write_lock:
            self._require(name)
            # Rename first so that a reader never sees half a collection.
            doomed = self.root / f".deleted-{name}-{os.getpid()}-{threading.get_ident()}"
            os.replace(self.root / name, doomed)
            with self._cache_lock:
                self._indexes.pop(name, None)
            shutil.rmtree(doomed, ignore_errors=True)

    # ---- internals

    def _current_index(self, name: str, generation: int, uid: str) -> Any:
        """The index of `generation`, read from disk unless the copy in memory is of that very file."""
        import faiss

        path = self._index_path(name, generation)
        st = os.stat(path)
        # A dropped and re-created collection counts generations from 1 again: its uid tells it apart.
        key = (uid, generation, st.st_ino, st.st_mtime_ns, st.st_size)
        with self._cache_lock:
            kept = self._indexes.get(name)
            if kept is not None and kept[0] == key:
                self._indexes.move_to_end(name)
                return kept[1]
        index = faiss.read_index(str(path))
        with self._cache_lock:
            self._indexes[name] = (key, index)
            self._indexes.move_to_end(name)
            while len(self._indexes) > _INDEXES_KEPT:
                self._indexes.popitem(last=False)
        return index

    def _require(self, name: str) -> None:
        if not self.exists(name):
            known = ", ".join(self.names()) or "none"
            raise no_collection(name, known)

    @contextlib.contextmanager
    def _read(self, name: str) -> Iterator[sqlite3.Connection]:
        self._require(name)
        db = sqlite3.connect(self.root / name / "meta.sqlite", timeout=30)
        try:
            with db:  # one read transaction: generation and rows agree
                db.execute("BEGIN")
                yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def _write(self, name: str, *, create: bool) -> Iterator[tuple[sqlite3.Connection, Callable[[int], Any]]]:
        import faiss

        if not create:
            self._require(name)
        folder = self.root / name
        with self._write_lock:
            folder.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(folder / "meta.sqlite", timeout=30, isolation_level=None)
            try:
                db.executescript(_SCHEMA)
                db.execute("BEGIN IMMEDIATE")
                generation = self._state(db, name).generation

                def index_of(dim: int) -> Any:
                    if generation > 0:
                        return faiss.read_index(str(self._index_path(name, generation)))
                    return faiss.IndexIDMap(faiss.IndexFlatIP(dim))

                try:
                    yield db, index_of
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    if generation == 0:  # a collection that never committed is not left behind
                        db.close()
                        shutil.rmtree(folder, ignore_errors=True)
                    raise
                current = self._state(db, name).generation
            finally:
                db.close()
            # Files of older generations, or of a write that never committed, are no longer needed.
            for stale in folder.glob("index-*.faiss"):
                if stale.name != self._index_path(name, current).name:
                    stale.unlink(missing_ok=True)

    def _commit_index(
        self, db: sqlite3.Connection, name: str, index: Any, generation: int, hook: FailPoint
    ) -> None:
        import faiss

        target = self._index_path(name, generation)
        fd, tmp = tempfile.mkstemp(prefix=".index-", suffix=".tmp", dir=target.parent)
        os.close(fd)
        try:
            faiss.write_index(index, tmp)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            hook("index_written")
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
        _set_meta(db, generation=generation)
        hook("before_commit")

    def _index_path(self, name: str, generation: int) -> Path:
        return self.root / name / f"index-{generation}.faiss"

    def _state(self, db: sqlite3.Connection, name: str) -> CollectionState:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        documents = db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return CollectionState(
            name=name,
            generation=int(meta.get("generation", 0)),
            model=meta.get("model", ""),
            dimensions=int(meta.get("dimensions", 0)),
            documents=int(documents),
            chunks=int(chunks),
        )


def _remove_document(db: sqlite3.Connection, index: Any, document_id: str) -> int:
    """Chunks removed (0 or more), or -1 if the document was not there."""
    import numpy as np

    if db.execute("SELECT 1 FROM documents WHERE id = ?", (document_id,)).fetchone() is None:
        return -1
    ids = [r[0] for r in db.execute("SELECT id FROM chunks WHERE document_id = ?", (document_id,))]
    if ids:
        index.remove_ids(np.asarray(ids, dtype=np.int64))
        marks = ",".join("?" * len(ids))
        db.execute(f"DELETE FROM chunks_fts WHERE rowid IN ({marks})", ids)
        db.execute(f"DELETE FROM chunks WHERE id IN ({marks})", ids)
    db.execute("DELETE FROM documents WHERE id = ?", (document_id,))
    return len(ids)


def _set_meta(db: sqlite3.Connection, **values: object) -> None:
    db.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [(k, str(v)) for k, v in values.items()],
    )
