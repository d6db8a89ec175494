"""The RAG operations behind the tools: index, search, build an answer prompt, list, delete."""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genai_mcp.tools.errors import InvalidInputError, LimitExceededError
from genai_mcp.tools.rag.chunking import chunk_text
from genai_mcp.tools.rag.embed import Embedder, embedder, tokenizer
from genai_mcp.tools.rag.schemas import (
    DEFAULT_EMBEDDING_MODEL,
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
from genai_mcp.tools.rag.store import Chunk, FailPoint, RagStore

__all__ = [
    "ALLOWED_SUFFIXES",
    "ANSWER_SYSTEM_PROMPT",
    "PROGRESS_CHUNKS",
    "RagLimits",
    "answer_context",
    "delete",
    "index_documents",
    "list_collections",
    "search",
]

ALLOWED_SUFFIXES = (".txt", ".md", ".rst")
# Chunks embedded between progress reports (and cancellation checks) when the caller wants them.
PROGRESS_CHUNKS = 64
_TERM = re.compile(r"\w+", re.UNICODE)
ANSWER_SYSTEM_PROMPT = (
    "Answer the question using only the numbered context passages. Cite the passages you use as [n]. "
    "If the context does not contain the answer, say so plainly instead of guessing."
)


@dataclass(frozen=True)
class RagLimits:
    """What one call may ask for, the folders files may be read from, and where the embedder runs.

    `settings` maps a limit's field name (e.g. "max_k") to the setting that raises it (e.g. an
    environment variable); a refusal names it. `device` is auto, cpu, cuda or cuda:N (None: auto),
    set by `device_setting`.
    """

    max_documents: int = 100
    max_document_chars: int = 1_000_000
    max_query_chars: int = 2_000
    max_k: int = 50
    roots: tuple[Path, ...] = ()
    device: str | None = None
    device_setting: str | None = None
    settings: Mapping[str, str] = field(default_factory=dict)

    def check(self, limit: str, what: str, value: int) -> None:
        """LimitExceededError naming `what` and the setting of `limit` when value exceeds it."""
        allowed: int = getattr(self, limit)
        if value > allowed:
            raise LimitExceededError(what, value, allowed, setting=self.settings.get(limit))

    def embedder(self, model: str) -> Embedder:
        return embedder(model, self.device, device_setting=self.device_setting)


def index_documents(
    request: IndexRequest,
    store: RagStore,
    limits: RagLimits,
    on_step: Callable[[int, int], None] | None = None,
    *,
    fail_point: FailPoint | None = None,
) -> IndexResult:
    """Chunk, embed and store each document; a re-used id replaces that document's chunks.

    `on_step(chunks_embedded, chunks)` runs after each embedding batch; it may raise CancelledError,
    and then nothing is written (the collection stays as it was).
    """
    started = time.perf_counter()
    total = len(request.documents) + len(request.paths)
    if total == 0:
        raise InvalidInputError("nothing to index: give documents (inline text) or paths")
    limits.check("max_documents", "documents in one call", total)
    texts: dict[str, str] = {}
    for doc in request.documents:
        texts[doc.id or "sha256:" + hashlib.sha256(doc.text.encode()).hexdigest()[:16]] = doc.text
    for raw in request.paths:
        texts[raw] = _read_file(raw, limits)
    if len(texts) < total:
        raise InvalidInputError("document ids must be distinct within one call")
    model_name = request.embedding_model
    if model_name is None:
        model_name = store.state(request.collection).model if store.exists(request.collection) else ""
        model_name = model_name or DEFAULT_EMBEDDING_MODEL
    for doc_id, text in texts.items():
        limits.check("max_document_chars", f"document {doc_id!r} length in chars", len(text))
    tokens = tokenizer(model_name)
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
    encoder = limits.embedder(model_name)
    vectors = _embed(encoder, [c.text for _, chunks in prepared for c in chunks], on_step)
    batch, at = [], 0
    for doc_id, chunks in prepared:
        batch.append((doc_id, chunks, vectors[at : at + len(chunks)]))
        at += len(chunks)
    state, replaced = store.upsert(
        request.collection, model_name, encoder.dimensions, batch, fail_point=fail_point
    )
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


def _embed(encoder: Embedder, texts: list[str], on_step: Callable[[int, int], None] | None) -> Any:
    """All texts' vectors, in order; with `on_step`, embedded PROGRESS_CHUNKS at a time."""
    if on_step is None:
        return encoder.encode(texts)
    import numpy as np

    parts = []
    for start in range(0, len(texts), PROGRESS_CHUNKS):
        parts.append(encoder.encode(texts[start : start + PROGRESS_CHUNKS]))
        on_step(start + len(parts[-1]), len(texts))
    return np.concatenate(parts)


def search(request: SearchRequest, store: RagStore, limits: RagLimits) -> SearchResult:
    """Hits best first, at most k: dense cosine, keyword bm25, or both fused by reciprocal rank."""
    started = time.perf_counter()
    limits.check("max_query_chars", "query length in chars", len(request.query))
    limits.check("max_k", "k", request.k)
    state = store.state(request.collection)
    depth = request.k if request.mode != "hybrid" else max(4 * request.k, 20)
    dense: list[tuple[int, float]] = []
    keyword: list[tuple[int, float]] = []
    if request.mode in ("dense", "hybrid"):
        vector = limits.embedder(state.model).encode([request.query])[0]
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
    scored = scored[: request.k]
    rows = store.chunks(request.collection, [cid for cid, _ in scored])
    hits = [
        SearchHit(
            rank=rank,
            document_id=rows[cid].document_id,
            chunk=rows[cid].ordinal,
            text=rows[cid].text,
            score=score,
            dense_rank=ranks.get(cid, (None, None))[0],
            keyword_rank=ranks.get(cid, (None, None))[1],
        )
        for rank, (cid, score) in enumerate(scored, 1)
        if cid in rows
    ]
    return SearchResult(
        collection=request.collection,
        query=request.query,
        mode=request.mode,
        hits=hits,
        embedding_model=state.model,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )


def answer_context(request: SearchRequest, store: RagStore, limits: RagLimits) -> AnswerContext:
    """The search, and a prompt quoting its hits as numbered passages [1]..[n] before the question."""
    found = search(request, store, limits)
    passages = "\n\n".join(f"[{h.rank}] ({h.document_id}#{h.chunk})\n{h.text}" for h in found.hits)
    prompt = f"Context:\n\n{passages or '(no passages matched)'}\n\nQuestion: {request.query}"
    return AnswerContext(search=found, system_prompt=ANSWER_SYSTEM_PROMPT, prompt=prompt)


def list_collections(store: RagStore) -> CollectionsResult:
    infos = []
    for name in store.names():
        s = store.state(name)
        infos.append(
            CollectionInfo(
                name=name,
                documents=s.documents,
                chunks=s.chunks,
                generation=s.generation,
                embedding_model=s.model,
                dimensions=s.dimensions,
            )
        )
    return CollectionsResult(collections=infos)


def delete(request: DeleteRequest, store: RagStore) -> DeleteResult:
    """Remove some documents, or (document_ids null) the whole collection."""
    if request.document_ids is None:
        store.drop(request.collection)
        return DeleteResult(
            collection=request.collection,
            deleted_collection=True,
            deleted_documents=[],
            missing_documents=[],
            remaining_chunks=0,
        )
    present, state = store.delete_documents(request.collection, request.document_ids)
    return DeleteResult(
        collection=request.collection,
        deleted_collection=False,
        deleted_documents=present,
        missing_documents=[d for d in request.document_ids if d not in present],
        remaining_chunks=state.chunks,
    )


def _read_file(raw: str, limits: RagLimits) -> str:
    """Text of a .txt/.md/.rst file under the roots (symlinks must stay inside them too)."""
    if not limits.roots:
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
    roots = [r.expanduser().resolve() for r in limits.roots]
    allowed = ", ".join(str(r) for r in roots)
    candidates = [path] if path.is_absolute() else [root / path for root in roots]
    for candidate in candidates:
        real = candidate.resolve()
        if not any(real.is_relative_to(root) for root in roots):
            raise InvalidInputError(f"the path {raw[:200]!r} is outside the allowed roots ({allowed})")
        if real.is_file():
            if os.path.getsize(real) > 4 * limits.max_document_chars:  # UTF-8: at most 4 bytes a char
                raise LimitExceededError(
                    f"file {raw!r} size in bytes",
                    os.path.getsize(real),
                    4 * limits.max_document_chars,
                    setting=limits.settings.get("max_document_chars"),
                )
            try:
                return real.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidInputError(f"the file {raw[:200]!r} is not UTF-8 text") from exc
    raise InvalidInputError(f"no file {raw[:200]!r} under the allowed roots ({allowed})")
