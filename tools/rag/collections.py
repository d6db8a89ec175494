"""What the RAG operations need from a place that keeps collections, whichever it is.

Two stores satisfy it: RagStore (store.py: SQLite + FTS5 + FAISS files under one folder, the
embedded default) and PgRagStore (store_pg.py: PostgreSQL tables, each process keeping FAISS
indexes in memory; for replicas on several machines). Both keep the same rules: a write replaces
the chunks of each document it names and commits all of it as the next generation or nothing;
a read sees one committed generation; a dropped and re-created collection is a new collection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from genai_mcp.tools.rag.store import Chunk, CollectionState, FailPoint, StoredChunk

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["CollectionStore"]


class CollectionStore(Protocol):
    """Collections by name. Reads of a collection that does not exist raise InvalidInputError
    ("no collection named ... (collections: ...)")."""

    @property
    def location(self) -> str:
        """Where the collections are kept, for people (a folder; a database without its password)."""
        ...

    def names(self) -> list[str]: ...

    def exists(self, name: str) -> bool: ...

    def state(self, name: str) -> CollectionState: ...

    def documents(self, name: str, limit: int) -> list[tuple[str, int]]:
        """(document id, chunk count) of at most `limit` documents, by id."""
        ...

    def chunks(self, name: str, ids: Sequence[int]) -> dict[int, StoredChunk]: ...

    def dense(self, name: str, query: npt.NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        """(chunk id, inner product with the unit query vector) best first, at most k."""
        ...

    def keyword(self, name: str, terms: list[str], k: int) -> list[tuple[int, float]]:
        """(chunk id, bm25-like score: higher is better) best first, at most k; any term may match."""
        ...

    def upsert(
        self,
        name: str,
        model: str,
        dimensions: int,
        documents: Sequence[tuple[str, list[Chunk], npt.NDArray[np.float32]]],
        *,
        fail_point: FailPoint | None = None,
    ) -> tuple[CollectionState, dict[str, int]]:
        """Replace each document's chunks and vectors in one commit (creating the collection);
        the new state and, per document, the chunks it replaced. InvalidInputError when the
        collection was built with another embedding model."""
        ...

    def delete_documents(self, name: str, document_ids: Sequence[str]) -> tuple[list[str], CollectionState]:
        """Remove documents; the ids that were present and the new state."""
        ...

    def drop(self, name: str) -> None: ...

    def close(self) -> None:
        """Let go of what the store keeps open between calls (it stays usable)."""
        ...
