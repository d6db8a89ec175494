"""Retrieval-augmented generation: collections of chunked documents searched densely, by keyword, or both,
optionally reranked by a cross-encoder.

Collections live in a CollectionStore: RagStore (SQLite + FTS5 + FAISS files under a folder, the
default) or, for replicas on several machines, PgRagStore (store_pg.py: PostgreSQL tables, FAISS
kept in each process's memory).

Import-light: faiss, numpy, torch and transformers are imported on first use.
"""

from __future__ import annotations

from genai_mcp.tools.rag.collections import CollectionStore
from genai_mcp.tools.rag.pipeline import (
    ALLOWED_SUFFIXES,
    ANSWER_SYSTEM_PROMPT,
    PROGRESS_CHUNKS,
    RagLimits,
    answer_context,
    collection_info,
    delete,
    index_documents,
    list_collections,
    search,
)
from genai_mcp.tools.rag.rerank import CrossEncoder, cross_encoder
from genai_mcp.tools.rag.schemas import (
    AnswerContext,
    AnswerRequest,
    CollectionInfo,
    CollectionsResult,
    DeleteRequest,
    DeleteResult,
    DocumentIn,
    IndexRequest,
    IndexResult,
    SearchHit,
    SearchRequest,
    SearchResult,
)
from genai_mcp.tools.rag.store import FailPoint, RagStore

__all__ = [
    "ALLOWED_SUFFIXES",
    "ANSWER_SYSTEM_PROMPT",
    "PROGRESS_CHUNKS",
    "AnswerContext",
    "AnswerRequest",
    "CollectionInfo",
    "CollectionStore",
    "CollectionsResult",
    "CrossEncoder",
    "DeleteRequest",
    "DeleteResult",
    "DocumentIn",
    "FailPoint",
    "IndexRequest",
    "IndexResult",
    "RagLimits",
    "RagStore",
    "SearchHit",
    "SearchRequest",
    "SearchResult",
    "answer_context",
    "collection_info",
    "cross_encoder",
    "delete",
    "index_documents",
    "list_collections",
    "search",
]
