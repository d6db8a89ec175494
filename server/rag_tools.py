"""MCP tools for retrieval-augmented generation: rag_index, rag_search, rag_answer, rag_collections, rag_delete.

Collections live under `<data_dir>/rag/` (settings.rag_dir). The GENAI_MCP_RAG_* settings bound
each call (a refusal names the variable to raise); the embedder runs on GENAI_MCP_RAG_DEVICE, or
else on GENAI_MCP_DEVICE (auto: cuda when torch sees one, else cpu); a bad device is refused when
a tool first needs the embedder, as a ToolError naming the variable.

rag_answer retrieves, then asks the client's LLM through sampling exactly as describe_image does
(see vision_tools for what each client behaviour leads to): without sampling the numbered context
still comes back, with `answer: null` and a status saying why.
"""

# No `from __future__ import annotations`: the SDK evaluates rag_answer's annotations against this
# module's globals, and its Resolve(...) markers name resolvers that are local to register().

from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context, Resolve, Sample
from mcp.types import CreateMessageResult, ToolAnnotations
from pydantic import BaseModel, Field

from genai_mcp.server.adapters import register_long_tool, register_model_tool, tool_errors
from genai_mcp.server.client_llm import SamplingSkipped, SamplingStatus, ask_client_llm, read_reply
from genai_mcp.server.longwork import OnStep
from genai_mcp.server.services import Services
from genai_mcp.server.settings import ENV_PREFIX
from genai_mcp.tools import rag
from genai_mcp.tools.rag.schemas import CollectionName, SearchMode

__all__ = ["AnswerResult", "AnswerStatus", "rag_limits", "register"]

_ANSWER_MAX_TOKENS = 400

AnswerStatus = SamplingStatus


class AnswerResult(BaseModel):
    answer: str | None = Field(description="The client's LLM's answer citing passages as [n]; null if none.")
    answer_status: AnswerStatus = Field(
        description=(
            "produced; client_cannot_sample (no sampling capability: no answer was generated, use the "
            "context); declined (the client refused or failed the request); no_back_channel (this "
            "connection cannot carry the request); unusable_reply (not text, or empty)"
        )
    )
    answer_note: str = Field(description="Why, in words, and which model wrote the answer.")
    context: rag.SearchResult = Field(description="The retrieved chunks; hit rank n is passage [n].")
    prompt: str = Field(description="The user message sent (or that would be sent) to the LLM.")


class RagCollectionsRequest(BaseModel):
    pass


_LIMITS = ("max_documents", "max_document_chars", "max_query_chars", "max_k")


def rag_limits(services: Services) -> rag.RagLimits:
    """The rag_* settings as the domain's limits, each refusal naming its GENAI_MCP_RAG_* variable."""
    settings = services.settings
    device_field = "rag_device" if settings.rag_device is not None else "device"
    return rag.RagLimits(
        roots=tuple(settings.roots),
        allow_downloads=settings.allow_downloads,
        device=settings.rag_device if settings.rag_device is not None else settings.device,
        device_setting=ENV_PREFIX + device_field.upper(),
        settings={name: f"{ENV_PREFIX}RAG_{name.upper()}" for name in _LIMITS},
        **{name: getattr(settings, "rag_" + name) for name in _LIMITS},
    )


def register(server: MCPServer[Any], services: Services) -> None:
    store = rag.RagStore(services.settings.rag_dir)
    limits = rag_limits(services)
    read_only = ToolAnnotations(
        read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )
    # A reranker named by a hub id may be fetched from the hub when downloads are allowed.
    searching = read_only.model_copy(update={"open_world_hint": services.settings.allow_downloads})
    suffixes = ", ".join(rag.ALLOWED_SUFFIXES)

    # Named functions, not lambdas: the SDK names its argument model (seen in errors) after them.
    def rag_index(request: rag.IndexRequest, on_step: OnStep) -> rag.IndexResult:
        return rag.index_documents(request, store, limits, on_step)

    def rag_search(request: rag.SearchRequest) -> rag.SearchResult:
        return rag.search(request, store, limits)

    def rag_collections(request: RagCollectionsRequest) -> rag.CollectionsResult:
        return rag.list_collections(store)

    def rag_delete(request: rag.DeleteRequest) -> rag.DeleteResult:
        return rag.delete(request, store)

    register_long_tool(
        server,
        rag_index,
        rag.IndexRequest,
        rag.IndexResult,
        name="rag_index",
        title="Index documents into a RAG collection",
        description=(
            "Chunks documents (inline text, or files under the server's roots: " + suffixes + "), embeds "
            "each chunk (default all-MiniLM-L6-v2, 384-d, mean pooling) and stores it in the collection "
            "(FAISS for vectors, SQLite FTS5 for keywords); the collection is created on first use. "
            "Chunk sizes count the embedding model's tokens; MiniLM reads 254 per chunk and embeds a "
            "longer chunk from its start (counted in truncated_chunks). "
            "Re-indexing a document id replaces its chunks. A write is all-or-nothing. Reports progress "
            "per 64 chunks embedded; cancelling writes nothing. "
            f"At most {limits.max_documents} documents per call, {limits.max_document_chars} chars each."
        ),
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
        ),
    )
    register_model_tool(
        server,
        rag_search,
        rag.SearchRequest,
        rag.SearchResult,
        name="rag_search",
        title="Search a RAG collection",
        description=(
            "The k best chunks for a query: dense (cosine of embeddings), keyword (bm25) or hybrid "
            "(reciprocal rank fusion, k=60; default), with scores and, for hybrid, each list's rank. "
            "Optionally a reranker (a cross-encoder checkpoint: local folder, or hub id in the local "
            "cache) rescores the mode's best `candidates` hits (default max(20, 4*k)) and the k best of "
            "its score are returned; by default none is applied, and the result says which. k at most "
            f"{limits.max_k}, candidates at most {4 * limits.max_k}, query at most "
            f"{limits.max_query_chars} chars."
        ),
        annotations=searching,
    )
    register_model_tool(
        server,
        rag_collections,
        RagCollectionsRequest,
        rag.CollectionsResult,
        name="rag_collections",
        title="List RAG collections",
        description="Every collection with its document and chunk counts, generation and embedding model.",
        annotations=read_only,
    )
    register_model_tool(
        server,
        rag_delete,
        rag.DeleteRequest,
        rag.DeleteResult,
        name="rag_delete",
        title="Delete documents or a whole RAG collection",
        description=(
            "Removes the named documents' chunks from a collection, or the whole collection when "
            "document_ids is null. Says which ids were found and which were not."
        ),
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
        ),
    )

    def context_for(
        collection: str,
        question: str,
        k: int,
        mode: SearchMode,
        min_score: float | None,
        reranker: str | None,
        candidates: int | None,
    ) -> rag.AnswerContext:
        with tool_errors():
            request = rag.SearchRequest(
                collection=collection,
                query=question,
                k=k,
                mode=mode,
                min_score=min_score,
                reranker=reranker,
                candidates=candidates,
            )
            return rag.answer_context(request, store, limits)

    async def reply_for(
        context: Annotated[rag.AnswerContext, Resolve(context_for)], ctx: Context[Any]
    ) -> Sample | CreateMessageResult | SamplingSkipped:
        return await ask_client_llm(
            ctx,
            user=context.prompt,
            system=context.system_prompt,
            max_tokens=_ANSWER_MAX_TOKENS,
            nothing_made="no answer was generated; the context is returned",
        )

    @server.tool(
        name="rag_answer",
        title="Answer a question from a RAG collection (the client's LLM)",
        description=(
            "Retrieves the k best chunks (as rag_search, optionally reranked), quotes them as numbered "
            "passages and asks the client's LLM (MCP sampling) to answer from them only, citing [n]. If "
            "the client cannot or "
            "will not sample, the context and prompt still come back, with answer null and answer_status "
            "saying why."
        ),
        annotations=ToolAnnotations(
            read_only_hint=True, destructive_hint=False, idempotent_hint=False, open_world_hint=True
        ),
    )
    async def rag_answer(
        collection: CollectionName,
        question: Annotated[str, Field(min_length=1, description="The question.")],
        context: Annotated[rag.AnswerContext, Resolve(context_for)],
        reply: Annotated[CreateMessageResult | SamplingSkipped, Resolve(reply_for)],
        k: Annotated[int, Field(ge=1, description=f"Passages quoted, at most {limits.max_k}.")] = 5,
        mode: SearchMode = "hybrid",
        min_score: Annotated[
            float | None, Field(description="Drop passages whose score of the mode is below this.")
        ] = None,
        reranker: Annotated[
            str | None,
            Field(
                min_length=1, max_length=1024, description="Cross-encoder to reorder hits (as rag_search)."
            ),
        ] = None,
        candidates: Annotated[
            int | None, Field(ge=1, description="Hits the reranker scores (as rag_search).")
        ] = None,
    ) -> AnswerResult:
        answer, status, note = read_reply(reply)
        return AnswerResult(
            answer=answer,
            answer_status=status,
            answer_note=note,
            context=context.search,
            prompt=context.prompt,
        )
