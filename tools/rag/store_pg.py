"""Collections in PostgreSQL, for replicas on several machines: what store.py keeps in SQLite and FAISS files.

Tables (created if missing; a collection's rows are keyed by its name):

    genai_mcp_rag_collections  name, uid, generation, model, dimensions; documents, chunks, words (counts)
    genai_mcp_rag_documents    (collection, id), chunks
    genai_mcp_rag_chunks       id (identity), collection, document_id, ordinal, text, words,
                               terms (tsvector, GIN index), embedding (bytea: float32 little-endian)

Keyword search is PostgreSQL full-text search scored like FTS5's bm25 (keyword_pg.py says how
the text becomes lexemes and why). Dense search runs on a FAISS IndexIDMap(IndexFlatIP) that each
process builds in memory from the table's embeddings and keeps per collection (a few, least
recently used out), keyed by the collection's uid and generation: a search reads that one row,
and rebuilds the index, in the same snapshot, only when a write by any process has moved it.

A write embeds first (outside the database), then in one transaction locks the collection's row
(SELECT ... FOR UPDATE: writers on every replica take turns, so generations never fork),
replaces the chunks of each document it names, and sets generation + 1 before COMMIT. A failure,
a cancel or a killed process anywhere before COMMIT rolls all of it back; a collection whose first
write never committed does not exist. Each call uses one connection (connections_pg.py: reads
reuse idle ones, writes open their own).

Needs psycopg (`pip install 'genai-mcp[postgres]'`); imported only when a database is configured.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from genai_mcp.tools.errors import InvalidInputError
from genai_mcp.tools.rag.connections_pg import PgConnections
from genai_mcp.tools.rag.keyword_pg import keyword_hits, tsvector, words
from genai_mcp.tools.rag.store import Chunk, CollectionState, FailPoint, StoredChunk

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import psycopg

__all__ = ["PgRagStore"]

_INDEXES_KEPT = 8

_SCHEMA = """
CREATE TABLE IF NOT EXISTS genai_mcp_rag_collections (
    name TEXT PRIMARY KEY,
    uid TEXT NOT NULL,
    generation BIGINT NOT NULL,
    model TEXT NOT NULL,
    dimensions INTEGER NOT NULL,
    documents INTEGER NOT NULL DEFAULT 0,
    chunks INTEGER NOT NULL DEFAULT 0,
    words BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS genai_mcp_rag_documents (
    collection TEXT NOT NULL REFERENCES genai_mcp_rag_collections (name) ON DELETE CASCADE,
    id TEXT NOT NULL,
    chunks INTEGER NOT NULL,
    PRIMARY KEY (collection, id)
);
CREATE TABLE IF NOT EXISTS genai_mcp_rag_chunks (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    collection TEXT NOT NULL,
    document_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    words INTEGER NOT NULL,
    terms TSVECTOR NOT NULL,
    embedding BYTEA NOT NULL,
    FOREIGN KEY (collection, document_id) REFERENCES genai_mcp_rag_documents (collection, id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS genai_mcp_rag_chunks_by_document ON genai_mcp_rag_chunks (collection, document_id);
CREATE INDEX IF NOT EXISTS genai_mcp_rag_chunks_terms ON genai_mcp_rag_chunks USING GIN (terms);
"""


class PgRagStore:
    """All collections in the database at `url` (postgresql://...); safe to share between threads,
    and between processes and machines for reads and writes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._db = PgConnections(url, _SCHEMA)
        self._lock = threading.Lock()
        self._indexes: OrderedDict[str, tuple[tuple[str, int], Any]] = OrderedDict()

    def close(self) -> None:
        """Close the idle connections kept for reads (the store stays usable)."""
        self._db.close()

    def __del__(self) -> None:
        self.close()

    @property
    def location(self) -> str:
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(self.url)
        return f"postgresql://{info.get('host', '')}:{info.get('port', 5432)}/{info.get('dbname', '')}"

    # ---- reading

    def names(self) -> list[str]:
        return self._db.read(_names)

    def exists(self, name: str) -> bool:
        return self._db.read(
            lambda db: (
                db.execute("SELECT 1 FROM genai_mcp_rag_collections WHERE name = %s", (name,)).fetchone()
                is not None
            )
        )

    def state(self, name: str) -> CollectionState:
        return self._db.read(lambda db: _state(db, name))

    def documents(self, name: str, limit: int) -> list[tuple[str, int]]:
        def run(db: psycopg.Connection[Any]) -> list[tuple[str, int]]:
            _state(db, name)
            rows = db.execute(
                "SELECT id, chunks FROM genai_mcp_rag_documents WHERE collection = %s ORDER BY id LIMIT %s",
                (name, limit),
            ).fetchall()
            return [(str(r[0]), int(r[1])) for r in rows]

        return self._db.read(run)

    def chunks(self, name: str, ids: Sequence[int]) -> dict[int, StoredChunk]:
        def run(db: psycopg.Connection[Any]) -> dict[int, StoredChunk]:
            _state(db, name)
            rows = db.execute(
                "SELECT id, document_id, ordinal, text FROM genai_mcp_rag_chunks "
                "WHERE collection = %s AND id = ANY(%s)",
                (name, list(ids)),
            ).fetchall()
            return {int(r[0]): StoredChunk(int(r[0]), r[1], int(r[2]), r[3]) for r in rows}

        return self._db.read(run)

    def dense(self, name: str, query: npt.NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        """(chunk id, cosine) best first, at most k."""
        index = self._db.read(lambda db: self._current_index(db, name))
        if index.ntotal == 0:
            return []
        scores, ids = index.search(query.reshape(1, -1), min(k, index.ntotal))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def keyword(self, name: str, terms: list[str], k: int) -> list[tuple[int, float]]:
        """(chunk id, bm25) best first, at most k; any of `terms` may match."""

        def run(db: psycopg.Connection[Any]) -> list[tuple[int, float]]:
            _state(db, name)
            return keyword_hits(db, name, terms, k)

        return self._db.read(run)

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
        with self._db.write() as db:
            db.execute(
                "INSERT INTO genai_mcp_rag_collections (name, uid, generation, model, dimensions) "
                "VALUES (%s, %s, 0, %s, %s) ON CONFLICT (name) DO NOTHING",
                (name, uuid.uuid4().hex, model, dimensions),
            )
            state = _state(db, name, lock=True)
            if state.model != model:
                raise InvalidInputError(
                    f"collection {name!r} was built with the embedding model {state.model!r}; "
                    f"index into it with that model, or use a new collection for {model!r}"
                )
            replaced: dict[str, int] = {}
            for document_id, chunks, vectors in documents:
                replaced[document_id] = max(0, _remove_document(db, name, document_id))
                db.execute(
                    "INSERT INTO genai_mcp_rag_documents (collection, id, chunks) VALUES (%s, %s, %s)",
                    (name, document_id, len(chunks)),
                )
                rows = np.ascontiguousarray(vectors, dtype="<f4")
                with db.cursor().copy(
                    "COPY genai_mcp_rag_chunks (collection, document_id, ordinal, text, words, terms, "
                    "embedding) FROM STDIN"
                ) as copy:
                    for chunk, vector in zip(chunks, rows, strict=True):
                        found = words(chunk.text)
                        copy.write_row(
                            (
                                name,
                                document_id,
                                chunk.ordinal,
                                chunk.text,
                                len(found),
                                tsvector(found),
                                vector.tobytes(),
                            )
                        )
                hook("rows_written")
            return self._commit(db, name, state.generation + 1, hook), replaced

    def delete_documents(self, name: str, document_ids: Sequence[str]) -> tuple[list[str], CollectionState]:
        """Remove documents; returns the ids that were present and the new state."""
        with self._db.write() as db:
            state = _state(db, name, lock=True)
            present = [d for d in document_ids if _remove_document(db, name, d) >= 0]
            if present:
                state = self._commit(db, name, state.generation + 1, lambda stage: None)
            return present, state

    def drop(self, name: str) -> None:
        with self._db.write() as db:
            _state(db, name, lock=True)  # waits for a write in flight, then removes what it committed
            db.execute("DELETE FROM genai_mcp_rag_collections WHERE name = %s", (name,))  # cascades
        with self._lock:
            self._indexes.pop(name, None)

    # ---- internals

    def _commit(
        self, db: psycopg.Connection[Any], name: str, generation: int, hook: FailPoint
    ) -> CollectionState:
        db.execute(
            "UPDATE genai_mcp_rag_collections c SET generation = %(g)s, "
            "documents = (SELECT count(*) FROM genai_mcp_rag_documents WHERE collection = %(n)s), "
            "chunks = (SELECT count(*) FROM genai_mcp_rag_chunks WHERE collection = %(n)s), "
            "words = (SELECT coalesce(sum(words), 0) FROM genai_mcp_rag_chunks WHERE collection = %(n)s) "
            "WHERE name = %(n)s",
            {"g": generation, "n": name},
        )
        hook("before_commit")
        return _state(db, name)

    def _current_index(self, db: psycopg.Connection[Any], name: str) -> Any:
        """The collection's committed vectors as a FAISS index: the copy in memory while its
        (uid, generation) is current, else rebuilt from the rows of this read's snapshot."""
        import faiss
        import numpy as np

        uid, generation, _, dimensions, _, _ = _collection(db, name)
        key = (uid, generation)  # a re-created collection counts from 1 again: its uid differs
        with self._lock:
            kept = self._indexes.get(name)
            if kept is not None and kept[0] == key:
                self._indexes.move_to_end(name)
                return kept[1]
        rows = db.execute(
            "SELECT id, embedding FROM genai_mcp_rag_chunks WHERE collection = %s ORDER BY id", (name,)
        ).fetchall()
        index = faiss.IndexIDMap(faiss.IndexFlatIP(dimensions))
        if rows:
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), -1)
            index.add_with_ids(vectors, np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))
        with self._lock:
            self._indexes[name] = (key, index)
            self._indexes.move_to_end(name)
            while len(self._indexes) > _INDEXES_KEPT:
                self._indexes.popitem(last=False)
        return index


def _names(db: psycopg.Connection[Any]) -> list[str]:
    return [r[0] for r in db.execute("SELECT name FROM genai_mcp_rag_collections ORDER BY name").fetchall()]


def _collection(db: psycopg.Connection[Any], name: str, *, lock: bool = False) -> tuple[Any, ...]:
    """(uid, generation, model, dimensions, documents, chunks); with `lock`, the row is locked
    until the transaction ends (writers of the collection wait for each other)."""
    row = db.execute(
        "SELECT uid, generation, model, dimensions, documents, chunks FROM genai_mcp_rag_collections "
        "WHERE name = %s" + (" FOR UPDATE" if lock else ""),
        (name,),
    ).fetchone()
    if row is None:
        known = ", ".join(_names(db)) or "none"
        raise InvalidInputError(f"no collection named {name!r} (collections: {known})")
    return tuple(row)


def _state(db: psycopg.Connection[Any], name: str, *, lock: bool = False) -> CollectionState:
    _, generation, model, dimensions, documents, chunks = _collection(db, name, lock=lock)
    return CollectionState(name, int(generation), model, int(dimensions), int(documents), int(chunks))


def _remove_document(db: psycopg.Connection[Any], name: str, document_id: str) -> int:
    """Chunks removed (0 or more), or -1 if the document was not there."""
    row = db.execute(
        "DELETE FROM genai_mcp_rag_documents WHERE collection = %s AND id = %s RETURNING chunks",
        (name, document_id),
    ).fetchone()  # its chunks go with it (ON DELETE CASCADE)
    return -1 if row is None else int(row[0])
