"""The RAG operations behind the tools: index, search, build an answer prompt, list, delete."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genai_mcp.tools.errors import GenAIError, InvalidInputError, LimitExceededError
from genai_mcp.tools.limits import limit
from genai_mcp.tools.models import ModelCache
from genai_mcp.tools.models.batching import ForwardBatcher
from genai_mcp.tools.progress import Progress
from genai_mcp.tools.rag.chunking import chunk_text
from genai_mcp.tools.rag.collections import CollectionStore
from genai_mcp.tools.rag.embed import Embedder, embedder, rag_device
from genai_mcp.tools.rag.files import ALLOWED_SUFFIXES, read_document
from genai_mcp.tools.rag.rerank import CrossEncoder, chosen_reranker, cross_encoder
from genai_mcp.tools.rag.schemas import (
    RRF_K,
    AnswerContext,
    CollectionInfo,
    CollectionsResult,
    DeleteRequest,
    DeleteResult,
    IndexedDocument,
    IndexRequest,
    IndexResult,
    SearchHit,
    SearchRequest,
    SearchResult,
)
from genai_mcp.tools.rag.store import Chunk, CollectionState, FailPoint

__all__ = [
    "ALLOWED_SUFFIXES",
    "ANSWER_SYSTEM_PROMPT",
    "PROGRESS_CHUNKS",
    "RagLimits",
    "answer_context",
    "collection_info",
    "delete",
    "index_documents",
    "list_collections",
    "search",
]

logger = logging.getLogger(__name__)

# Chunks embedded between progress reports (and cancellation checks) when the caller wants them.
PROGRESS_CHUNKS = 64
_TERM = re.compile(r"\w+", re.UNICODE)
ANSWER_SYSTEM_PROMPT = (
    "Answer the question using only the numbered context passages. Cite the passages you use as [n]. "
    "If the context does not contain the answer, say so plainly instead of guessing."
)


@dataclass(frozen=True)
class RagLimits:
    """What one call may ask for, the folders files may be read from, and where the models run.

    The embedder and reranker run on `device` (auto, cpu, cuda or cuda:N), or on `model_device`
    (the device of every other model) when it is None; a bad one is refused with the key of
    whichever was used (rag.device, models.device). `roots` (files.roots): where document paths may
    point. Whether a hub id missing from the local cache may be fetched is the model cache's choice
    (ModelCache.allow_downloads). A reranker scores at most 4 * max_k candidates.
    """

    max_documents: int = limit("rag.max_documents", 100)  # documents in one index call
    max_document_chars: int = limit("rag.max_document_chars", 1_000_000)  # characters in one document
    max_query_chars: int = limit("rag.max_query_chars", 2_000)
    max_k: int = limit("rag.max_k", 50)  # hits one search may return
    roots: tuple[Path, ...] = ()
    device: str | None = None
    model_device: str = "auto"

    def resolved_device(self) -> str:
        """The canonical device of the RAG models; a refusal carries rag.device or models.device."""
        try:
            return rag_device(self.device if self.device is not None else self.model_device)
        except GenAIError as exc:
            exc.setting = "rag.device" if self.device is not None else "models.device"
            raise


def _embedder(limits: RagLimits, model: str | None, models: ModelCache | None) -> Embedder:
    """`model`'s encoder; None: the model cache's default embedder."""
    return embedder(model, limits.resolved_device(), models=models)


def _reranker(limits: RagLimits, model: str | None, models: ModelCache | None) -> CrossEncoder:
    """`model`'s cross-encoder; None: the model cache's default reranker."""
    return cross_encoder(model, limits.resolved_device(), models=models)


def _check(what: str, value: int, allowed: int, key: str) -> None:
    if value > allowed:
        raise LimitExceededError(what, value, allowed, setting=key)


def index_documents(
    request: IndexRequest,
    progress: Progress | None = None,
    *,
    store: CollectionStore,
    limits: RagLimits | None = None,
    fail_point: FailPoint | None = None,
    models: ModelCache | None = None,
    batcher: ForwardBatcher | None = None,
) -> IndexResult:
    """Chunk, embed and store each document in `store`; a re-used id replaces that document's chunks.

    `progress(chunks_embedded, chunks)` runs after each batch of PROGRESS_CHUNKS; it may raise
    WorkCancelledError, and then nothing is written (the collection stays as it was). With a
    `batcher`, the embedding passes are shared with concurrent searches and index calls.
    """
    started = time.perf_counter()
    limits = limits or RagLimits()
    total = len(request.documents) + len(request.paths)
    if total == 0:
        raise InvalidInputError("nothing to index: give documents (inline text) or paths")
    _check("documents in one call", total, limits.max_documents, "rag.max_documents")
    texts: dict[str, str] = {}
    for doc in request.documents:
        texts[doc.id or "sha256:" + hashlib.sha256(doc.text.encode()).hexdigest()[:16]] = doc.text
    for raw in request.paths:
        texts[raw] = read_document(raw, limits.roots, limits.max_document_chars, "rag.max_document_chars")
    if len(texts) < total:
        raise InvalidInputError("document ids must be distinct within one call")
    # A collection keeps the embedder it was created with; the default embedder serves new ones only.
    model_name = request.embedding_model
    if model_name is None and store.exists(request.collection):
        model_name = store.state(request.collection).model or None
    for doc_id, text in texts.items():
        what = f"document {doc_id!r} length in chars"
        _check(what, len(text), limits.max_document_chars, "rag.max_document_chars")
    encoder = _embedder(limits, model_name, models)  # the model cache's entry (None: default_cache())
    model_name = model_name or encoder.name  # the default's resolved id, recorded with the collection
    tokens = encoder.tokens
    prepared = []
    for doc_id, text in texts.items():
        pieces = chunk_text(text, request.chunking, request.chunk_size, request.overlap, tokens)
        if not pieces:
            raise InvalidInputError(f"document {doc_id!r} holds no words")
        prepared.append((doc_id, [Chunk(doc_id, i, p) for i, p in enumerate(pieces)]))
    truncated = 0
    if request.chunk_size > tokens.content_tokens:  # otherwise no chunk can be longer than the window
        truncated = sum(
            tokens.count(c.text) > tokens.content_tokens for _, chunks in prepared for c in chunks
        )
    if truncated:
        logger.warning(
            "%d chunks are longer than %s's window of %d tokens: only their start is embedded",
            truncated,
            model_name,
            tokens.content_tokens,
            extra={"figures": {"collection": request.collection, "truncated_chunks": truncated}},
        )
    vectors = _embed(encoder, [c.text for _, chunks in prepared for c in chunks], progress, batcher)
    batch, at = [], 0
    for doc_id, chunks in prepared:
        batch.append((doc_id, chunks, vectors[at : at + len(chunks)]))
        at += len(chunks)
    state, replaced = store.upsert(
        request.collection, model_name, encoder.dimensions, batch, fail_point=fail_point
    )
    _committed(request.collection, state, f"{len(batch)} documents indexed")
    return IndexResult(
        collection=request.collection,
        documents=[
            IndexedDocument(id=doc_id, chunks=len(chunks), replaced_chunks=replaced[doc_id])
            for doc_id, chunks in prepared
        ],
        total_documents=state.documents,
        total_chunks=state.chunks,
        generation=state.generation,
        embedding_model=model_name,
        embedding_device=encoder.device,
        truncated_chunks=truncated,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )


def _embed(
    encoder: Embedder, texts: list[str], progress: Progress | None, batcher: ForwardBatcher | None
) -> Any:
    """All texts' vectors, in order; with `progress`, embedded PROGRESS_CHUNKS at a time."""
    if progress is None:
        return encoder.encode(texts, batcher)
    import numpy as np

    parts = []
    for start in range(0, len(texts), PROGRESS_CHUNKS):
        parts.append(encoder.encode(texts[start : start + PROGRESS_CHUNKS], batcher))
        progress(start + len(parts[-1]), len(texts))
    return np.concatenate(parts)


def search(
    request: SearchRequest,
    store: CollectionStore,
    limits: RagLimits,
    *,
    models: ModelCache | None = None,
    batcher: ForwardBatcher | None = None,
) -> SearchResult:
    """Hits best first, at most k: dense cosine, keyword bm25 (FTS5's, or PostgreSQL's full-text
    search scored the same way), or both fused by reciprocal rank.

    With a reranker, the mode's best `candidates` hits (after min_score) are scored by the
    cross-encoder and the k best of that score are returned. With a `batcher`, the query's
    embedding pass is shared with concurrent callers'.
    """
    started = time.perf_counter()
    _check("query length in chars", len(request.query), limits.max_query_chars, "rag.max_query_chars")
    _check("k", request.k, limits.max_k, "rag.max_k")
    rerank_with = chosen_reranker(request.reranker, models)  # None: no reranking
    pool = request.k
    if rerank_with is not None:
        pool = request.candidates if request.candidates is not None else max(20, 4 * request.k)
        if pool < request.k:
            raise InvalidInputError(f"candidates ({pool}) must be at least k ({request.k})")
        if pool > 4 * limits.max_k:
            raise LimitExceededError(
                "candidates (4 x the k limit)", pool, 4 * limits.max_k, setting="rag.max_k"
            )
    state = store.state(request.collection)
    reranker = None if rerank_with is None else _reranker(limits, request.reranker, models)
    scored, ranks = _retrieve(request, store, limits, state.model, pool, models, batcher)
    rows = store.chunks(request.collection, [cid for cid, _ in scored])
    found = [(cid, score, at) for at, (cid, score) in enumerate(scored, 1) if cid in rows]
    rerank: dict[int, float] = {}
    if reranker is None:
        note = "no reranker is applied: hits are in the order of the chosen mode's score"
    else:
        values = reranker.score(request.query, [rows[cid].text for cid, _, _ in found])
        rerank = {cid: v for (cid, _, _), v in zip(found, values, strict=True)}
        found.sort(key=lambda item: (-rerank[item[0]], item[2]))
        note = (
            f"reranked the top {len(found)} {request.mode} hits with {reranker.name} "
            f"(cross-encoder, on {reranker.device})"
        )
    hits = [
        SearchHit(
            rank=rank,
            document_id=rows[cid].document_id,
            chunk=rows[cid].ordinal,
            text=rows[cid].text,
            score=score,
            retrieval_rank=at,
            rerank_score=rerank.get(cid),
            dense_rank=ranks.get(cid, (None, None))[0],
            keyword_rank=ranks.get(cid, (None, None))[1],
        )
        for rank, (cid, score, at) in enumerate(found[: request.k], 1)
    ]
    return SearchResult(
        collection=request.collection,
        query=request.query,
        mode=request.mode,
        hits=hits,
        reranker=None if reranker is None else reranker.name,
        reranker_note=note,
        embedding_model=state.model,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )


def _retrieve(
    request: SearchRequest,
    store: CollectionStore,
    limits: RagLimits,
    model: str,
    pool: int,
    models: ModelCache | None,
    batcher: ForwardBatcher | None,
) -> tuple[list[tuple[int, float]], dict[int, tuple[int | None, int | None]]]:
    """The mode's best `pool` (chunk id, score) pairs at or above min_score, and hybrid's list ranks."""
    depth = pool if request.mode != "hybrid" else max(4 * pool, 20)
    dense: list[tuple[int, float]] = []
    keyword: list[tuple[int, float]] = []
    if request.mode in ("dense", "hybrid"):
        vector = _embedder(limits, model, models).encode([request.query], batcher)[0]
        dense = store.dense(request.collection, vector, depth)
    if request.mode in ("keyword", "hybrid"):
        keyword = store.keyword(request.collection, _TERM.findall(request.query.lower()), depth)
    ranks: dict[int, tuple[int | None, int | None]] = {}
    if request.mode == "hybrid":
        dense_rank = {cid: r for r, (cid, _) in enumerate(dense, 1)}
        keyword_rank = {cid: r for r, (cid, _) in enumerate(keyword, 1)}
        fused: dict[int, float] = {}
        for ranking in (dense_rank, keyword_rank):
            for cid, r in ranking.items():
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + r)
        scored = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
        ranks = {cid: (dense_rank.get(cid), keyword_rank.get(cid)) for cid in fused}
    else:
        scored = dense or keyword
    if request.min_score is not None:
        scored = [(cid, s) for cid, s in scored if s >= request.min_score]
    return scored[:pool], ranks


def answer_context(
    request: SearchRequest,
    store: CollectionStore,
    limits: RagLimits,
    *,
    models: ModelCache | None = None,
    batcher: ForwardBatcher | None = None,
) -> AnswerContext:
    """The search, and a prompt quoting its hits as numbered passages [1]..[n] before the question."""
    found = search(request, store, limits, models=models, batcher=batcher)
    passages = "\n\n".join(f"[{h.rank}] ({h.document_id}#{h.chunk})\n{h.text}" for h in found.hits)
    prompt = f"Context:\n\n{passages or '(no passages matched)'}\n\nQuestion: {request.query}"
    return AnswerContext(search=found, system_prompt=ANSWER_SYSTEM_PROMPT, prompt=prompt)


def list_collections(store: CollectionStore) -> CollectionsResult:
    return CollectionsResult(collections=[collection_info(store, name) for name in store.names()])


def collection_info(store: CollectionStore, name: str) -> CollectionInfo:
    """One collection's counts, generation and embedding model; InvalidInputError if there is none."""
    s = store.state(name)
    return CollectionInfo(
        name=name,
        documents=s.documents,
        chunks=s.chunks,
        generation=s.generation,
        embedding_model=s.model,
        dimensions=s.dimensions,
    )


def _committed(collection: str, state: CollectionState, what: str) -> None:
    logger.info(
        "collection %r: generation %d committed (%s; now %d documents, %d chunks)",
        collection,
        state.generation,
        what,
        state.documents,
        state.chunks,
        extra={
            "figures": {
                "collection": collection,
                "generation": state.generation,
                "documents": state.documents,
                "chunks": state.chunks,
            }
        },
    )


def delete(request: DeleteRequest, store: CollectionStore) -> DeleteResult:
    """Remove some documents, or (document_ids null) the whole collection."""
    if request.document_ids is None:
        store.drop(request.collection)
        logger.info(
            "collection %r deleted", request.collection, extra={"figures": {"collection": request.collection}}
        )
        return DeleteResult(
            collection=request.collection,
            deleted_collection=True,
            deleted_documents=[],
            missing_documents=[],
            remaining_chunks=0,
        )
    present, state = store.delete_documents(request.collection, request.document_ids)
    if present:
        _committed(request.collection, state, f"{len(present)} documents deleted")
    return DeleteResult(
        collection=request.collection,
        deleted_collection=False,
        deleted_documents=present,
        missing_documents=[d for d in request.document_ids if d not in present],
        remaining_chunks=state.chunks,
    )
