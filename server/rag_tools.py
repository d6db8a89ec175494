"""MCP tools for retrieval-augmented generation: rag_index, rag_search, rag_answer, rag_collections, rag_delete.

Collections live under `<data_dir>/rag/` (settings.rag_dir), or in PostgreSQL, shared by every
replica, when GENAI_MCP_DATABASE_URL is set (state.rag_store). The GENAI_MCP_RAG_* settings bound
each call (a refusal names the variable to raise); the embedder runs on GENAI_MCP_RAG_DEVICE, or
else on GENAI_MCP_DEVICE (auto: cuda when torch sees one, else cpu); a bad device is refused when
a tool first needs the embedder, as a ToolError naming the variable.

rag_answer retrieves, then asks the client's LLM through sampling exactly as describe_image does
(see vision_tools for what each client behaviour leads to): without sampling the numbered context
still comes back, with `answer: null` and a status saying why.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context, Sample
from mcp.types import CreateMessageResult
from pydantic import BaseModel, ConfigDict, Field

from genai_mcp.server import apps
from genai_mcp.server.adapters import Resolver, ToolPublisher, ToolSpec
from genai_mcp.server.annotations import PURE, REMOVES, VARIES
from genai_mcp.server.client_llm import SamplingSkipped, SamplingStatus, ask_client_llm, read_reply
from genai_mcp.server.limits import build_limits
from genai_mcp.server.state import ServerState
from genai_mcp.tools import rag
from genai_mcp.tools.progress import Progress

__all__ = ["AnswerResult", "rag_limits", "register"]

_ANSWER_MAX_TOKENS = 400
_SUFFIXES = ", ".join(rag.ALLOWED_SUFFIXES)


class AnswerResult(BaseModel):
    answer: str | None = Field(description="The client's LLM's answer citing passages as [n]; null if none.")
    answer_status: SamplingStatus = Field(
        description=(
            "produced; client_cannot_sample (no sampling capability: no answer was generated, use the "
            "context); declined (the client refused or failed the request); no_back_channel (this "
            "connection cannot carry the request); unusable_reply (not text, or empty)"
        )
    )
    answer_note: str = Field(description="Why, in words, and which model wrote the answer.")
    context: rag.SearchResult = Field(description="The retrieved chunks; hit rank n is passage [n].")
    prompt: str = Field(description="The user message sent (or that would be sent) to the LLM.")


class NoArguments(BaseModel):
    model_config = ConfigDict(extra="forbid")


def rag_limits(state: ServerState) -> rag.RagLimits:
    s = state.settings
    return build_limits(rag.RagLimits, s, roots=tuple(s.roots), device=s.rag_device, model_device=s.device)


INDEX = ToolSpec(
    name="rag_index",
    title="Index documents into a RAG collection",
    description=(
        "Chunks documents (inline text, or files under the server's roots: " + _SUFFIXES + "), embeds "
        "each chunk (default {models.embedding_about}, mean pooling) and stores it in the collection "
        "(FAISS for vectors, SQLite FTS5 for keywords); the collection is created on first use. "
        "Chunk sizes count the embedding model's tokens; MiniLM reads 254 per chunk and embeds a "
        "longer chunk from its start (counted in truncated_chunks). "
        "Re-indexing a document id replaces its chunks. A write is all-or-nothing. Reports progress "
        "per 64 chunks embedded; cancelling writes nothing. "
        "At most {rag.max_documents} documents per call, {rag.max_document_chars} chars each."
    ),
    request=rag.IndexRequest,
    result=rag.IndexResult,
    annotations=REMOVES,
)
COLLECTIONS = ToolSpec(
    name="rag_collections",
    title="List RAG collections",
    description="Every collection with its document and chunk counts, generation and embedding model.",
    request=NoArguments,
    result=rag.CollectionsResult,
    annotations=PURE,
)
DELETE = ToolSpec(
    name="rag_delete",
    title="Delete documents or a whole RAG collection",
    description=(
        "Removes the named documents' chunks from a collection, or the whole collection when "
        "document_ids is null. Says which ids were found and which were not."
    ),
    request=rag.DeleteRequest,
    result=rag.DeleteResult,
    annotations=REMOVES,
)


ANSWER = ToolSpec(
    name="rag_answer",
    title="Answer a question from a RAG collection (the client's LLM)",
    description=(
        "Retrieves the k best chunks (as rag_search, optionally reranked), quotes them as numbered "
        "passages and asks the client's LLM (MCP sampling) to answer from them only, citing [n]. If "
        "the client cannot or will not sample, the context and prompt still come back, with answer "
        "null and answer_status saying why."
    ),
    request=rag.AnswerRequest,
    result=AnswerResult,
    annotations=VARIES,
    view=apps.RETRIEVAL,
)


def register(tools: ToolPublisher, state: ServerState) -> None:
    store, limits, models, batcher = state.rag, rag_limits(state), state.models, state.batcher

    def rag_index(request: rag.IndexRequest, progress: Progress) -> rag.IndexResult:
        return rag.index_documents(
            request, progress, store=store, limits=limits, models=models, batcher=batcher
        )

    def rag_search(request: rag.SearchRequest) -> rag.SearchResult:
        return rag.search(request, store, limits, models=models, batcher=batcher)

    def rag_collections(request: NoArguments) -> rag.CollectionsResult:
        return rag.list_collections(store)

    def rag_delete(request: rag.DeleteRequest) -> rag.DeleteResult:
        return rag.delete(request, store)

    search = ToolSpec(
        name="rag_search",
        title="Search a RAG collection",
        description=(
            "The k best chunks for a query: dense (cosine of embeddings), keyword (bm25) or hybrid "
            "(reciprocal rank fusion, k=60; default), with scores and, for hybrid, each list's rank. "
            "Optionally a reranker (a cross-encoder checkpoint: local folder, or hub id in the local "
            "cache) rescores the mode's best `candidates` hits (default max(20, 4*k)) and the k best of "
            "its score are returned; by default {models.reranker} is applied, and the result says "
            "which. k at most "
            f"{{rag.max_k}}, candidates at most {4 * limits.max_k}, query at most "
            "{rag.max_query_chars} chars."
        ),
        request=rag.SearchRequest,
        result=rag.SearchResult,
        annotations=PURE,
        view=apps.RETRIEVAL,
    )
    tools.add_long(INDEX, rag_index)
    # A reranker named by a hub id may be fetched from the hub when downloads are allowed.
    tools.add(search.opening(state.settings.allow_downloads), rag_search)
    tools.add(COLLECTIONS, rag_collections)
    tools.add(DELETE, rag_delete)
    _register_answer(tools, state, limits)


def _register_answer(tools: ToolPublisher, state: ServerState, limits: rag.RagLimits) -> None:
    def context(request: rag.AnswerRequest, ctx: Context[Any]) -> rag.AnswerContext:
        search = rag.SearchRequest(query=request.question, **request.model_dump(exclude={"question"}))
        return rag.answer_context(search, state.rag, limits, models=state.models, batcher=state.batcher)

    async def reply(
        request: rag.AnswerRequest, ctx: Context[Any], context: rag.AnswerContext
    ) -> Sample | CreateMessageResult | SamplingSkipped:
        nothing = "no answer was generated; the context is returned"
        return await ask_client_llm(
            ctx,
            user=context.prompt,
            system=context.system_prompt,
            max_tokens=_ANSWER_MAX_TOKENS,
            nothing_made=nothing,
        )

    async def rag_answer(
        request: rag.AnswerRequest,
        ctx: Context[Any],
        context: rag.AnswerContext,
        reply: CreateMessageResult | SamplingSkipped,
    ) -> AnswerResult:
        answer, status, note = read_reply(reply)
        return AnswerResult(
            answer=answer,
            answer_status=status,
            answer_note=note,
            context=context.search,
            prompt=context.prompt,
        )

    resolvers = [Resolver("context", context), Resolver("reply", reply, needs=("context",))]
    # The answer comes from the client's LLM: outside this server, whatever the settings.
    tools.add_resolving(ANSWER.opening(True), rag_answer, resolvers)
