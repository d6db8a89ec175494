"""Request and result models of the RAG tools; import-light (pydantic only)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from genai_mcp.tools.models.defaults import PACKAGED_EMBEDDER

__all__ = [
    "COLLECTION_PATTERN",
    "DEFAULT_EMBEDDING_MODEL",
    "AnswerContext",
    "ChunkingMode",
    "CollectionInfo",
    "CollectionName",
    "CollectionsResult",
    "DeleteRequest",
    "DeleteResult",
    "DocumentIn",
    "IndexRequest",
    "IndexResult",
    "IndexedDocument",
    "SearchHit",
    "SearchMode",
    "SearchRequest",
    "SearchResult",
]

COLLECTION_PATTERN = r"^[a-z0-9_-]{1,64}$"
DEFAULT_EMBEDDING_MODEL = PACKAGED_EMBEDDER  # built in; a server may choose another for new collections
RRF_K = 60

CollectionName = Annotated[
    str,
    Field(pattern=COLLECTION_PATTERN, description="Collection name: 1-64 of a-z, 0-9, '_' and '-'."),
]
ChunkingMode = Literal["paragraphs", "lines", "tokens"]
SearchMode = Literal["dense", "keyword", "hybrid"]


class DocumentIn(BaseModel):
    id: str | None = Field(
        None,
        min_length=1,
        max_length=256,
        description="Document id; null: a content hash. Re-using an id replaces it.",
    )
    text: str = Field(min_length=1, description="The document text.")


class IndexRequest(BaseModel):
    collection: CollectionName
    documents: list[DocumentIn] = Field(default_factory=list, description="Inline documents.")
    paths: list[str] = Field(
        default_factory=list,
        description="Files under the server's roots (.txt, .md, .rst); the id is the path as given.",
    )
    chunking: ChunkingMode = Field(
        "paragraphs",
        description=(
            "paragraphs: blank-line separated blocks packed up to chunk_size tokens; lines: lines packed up "
            "to chunk_size tokens; tokens: windows of chunk_size tokens, each starting overlap tokens before "
            "the previous one ends. A block or line longer than chunk_size is cut into such windows. Cuts "
            "fall between words."
        ),
    )
    chunk_size: int = Field(
        200,
        ge=8,
        le=2000,
        description=(
            "Tokens per chunk at most. A token is one piece of the embedding model's tokenizer (MiniLM: "
            "uncased WordPiece, about 1.3 per English word; [CLS]/[SEP] not counted). MiniLM reads 254 "
            "such tokens per chunk: a longer chunk is embedded from its first 254 only (its whole text is "
            "still stored, keyword-searchable and returned) and counted in truncated_chunks."
        ),
    )
    overlap: int = Field(
        40,
        ge=0,
        le=1000,
        description="Tokens shared by consecutive windows (tokens mode, and cut blocks or lines); < chunk_size.",
    )
    embedding_model: str | None = Field(
        None,
        min_length=1,
        description="Sentence-embedding checkpoint; null: the collection's, or {models.embedding} for a new one.",
    )


class IndexedDocument(BaseModel):
    id: str
    chunks: int
    replaced_chunks: int = Field(
        description="Chunks of an earlier version of this document that were removed."
    )


class IndexResult(BaseModel):
    collection: str
    documents: list[IndexedDocument]
    total_documents: int
    total_chunks: int
    generation: int = Field(description="Increases by one with every committed write to the collection.")
    embedding_model: str
    embedding_device: str = Field(description="Where the embedder ran: cpu, cuda or cuda:N.")
    truncated_chunks: int = Field(
        description=(
            "Chunks of this call longer than the embedding model reads (MiniLM: 254 tokens); each is "
            "embedded from its beginning only. 0 whenever chunk_size is within that window."
        )
    )
    elapsed_ms: float


class _Retrieval(BaseModel):
    """What search and answer share: where to look, how many hits, how to rank them."""

    collection: CollectionName
    k: int = Field(
        5, ge=1, description="Hits returned (passages quoted, for an answer), at most {rag.max_k}."
    )
    mode: SearchMode = Field(
        "hybrid",
        description=f"dense (cosine of embeddings), keyword (SQLite FTS5 bm25), hybrid (reciprocal rank fusion, k={RRF_K}).",
    )
    min_score: float | None = Field(
        None,
        description=(
            "Drop hits whose score of the chosen mode (not the rerank score) is below this; applied "
            "before reranking."
        ),
    )
    reranker: str | None = Field(
        None,
        min_length=1,
        max_length=1024,
        description=(
            "Cross-encoder that reorders the mode's best `candidates` hits by its score of each (query, "
            "chunk) pair, before the top k are kept: a local checkpoint folder, or a hub id already in "
            "the server's Hugging Face cache (fetched only when the server allows downloads). A "
            "sequence-classification checkpoint with 1 output (score: its logit) or 2 (score: "
            "logit[1] - logit[0], label 1 = relevant). null: {models.reranker_about}."
        ),
    )
    candidates: int | None = Field(
        None,
        ge=1,
        description=(
            "With a reranker: how many of the mode's best hits it scores, at least k and at most 4 times "
            "the server's k limit; null: max(20, 4*k). Ignored without a reranker."
        ),
    )


class SearchRequest(_Retrieval):
    query: str = Field(min_length=1, description="The query text.")


class AnswerRequest(_Retrieval):
    question: str = Field(min_length=1, description="The question.")


class SearchHit(BaseModel):
    rank: int = Field(description="1-based.")
    document_id: str
    chunk: int = Field(description="0-based position of the chunk in its document.")
    text: str
    score: float = Field(
        description="dense: cosine in [-1, 1]; keyword: -bm25 (higher is better); hybrid: RRF sum."
    )
    retrieval_rank: int = Field(
        description="1-based rank in the chosen mode's order, before any reranking (= rank without a reranker)."
    )
    rerank_score: float | None = Field(
        None, description="The reranker's relevance score (higher is better); null: no reranker."
    )
    dense_rank: int | None = Field(None, description="Rank in the dense list (hybrid only; null: not in it).")
    keyword_rank: int | None = Field(
        None, description="Rank in the keyword list (hybrid only; null: not in it)."
    )


class SearchResult(BaseModel):
    collection: str
    query: str
    mode: SearchMode
    hits: list[SearchHit]
    reranker: str | None = Field(
        None, description="The cross-encoder that ordered the hits (a folder or hub id); null: none."
    )
    reranker_note: str = Field(
        description=(
            "'no reranker is applied: ...' or 'reranked the top N <mode> hits with <reranker> "
            "(cross-encoder ...)'."
        )
    )
    embedding_model: str
    elapsed_ms: float


class AnswerContext(BaseModel):
    search: SearchResult
    system_prompt: str
    prompt: str = Field(description="The user message: the numbered chunks, then the question.")


class CollectionInfo(BaseModel):
    name: str
    documents: int
    chunks: int
    generation: int
    embedding_model: str
    dimensions: int


class CollectionsResult(BaseModel):
    collections: list[CollectionInfo]


class DeleteRequest(BaseModel):
    collection: CollectionName
    document_ids: list[str] | None = Field(
        None, min_length=1, description="Documents to remove; null: delete the whole collection."
    )


class DeleteResult(BaseModel):
    collection: str
    deleted_collection: bool
    deleted_documents: list[str]
    missing_documents: list[str] = Field(description="Requested ids the collection did not hold.")
    remaining_chunks: int
