"""The RAG tools through an in-memory MCP client (both protocol eras), with a real collection on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client import ClientRequestContext
from mcp.server import MCPServer
from mcp.types import CreateMessageRequestParams, CreateMessageResult, ErrorData, TextContent

from genai_mcp.server.app import create_server
from genai_mcp.server.settings import ServerSettings
from tests.helpers.checkpoints import direct_scores, save_cross_encoder
from tests.helpers.results import ok, text_of
from tests.helpers.results import run_client as run

ANSWER = "The coffee machine needs descaling [1]."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> MCPServer[Any]:
    base = tmp_path_factory.mktemp("rag")
    root = base / "root"
    root.mkdir()
    (root / "tickets.md").write_text(
        "Ticket QX7743KZ: the nightly export job failed because the disk was full.\n\n"
        "Ticket QX7734ZK: the office coffee machine needs descaling.\n\n"
        "Ticket QX7374KZ: the nightly export job failed after a timeout.\n"
    )
    (root / "report.pdf").write_bytes(b"%PDF")
    return create_server(ServerSettings(data_dir=base / "data", roots=[root], log_level="WARNING"))


async def sample_ok(context: ClientRequestContext, params: CreateMessageRequestParams) -> CreateMessageResult:
    prompt = params.messages[0].content
    assert isinstance(prompt, TextContent)
    assert prompt.text.startswith("Context:\n\n[1] (tickets.md#") and "QX7734ZK" in prompt.text
    assert params.system_prompt and "[n]" in params.system_prompt
    return CreateMessageResult(
        role="assistant", content=TextContent(type="text", text=ANSWER), model="host-llm"
    )


async def sample_refuses(context: ClientRequestContext, params: CreateMessageRequestParams) -> ErrorData:
    return ErrorData(code=-1, message="user refused sampling")


def test_index_search_list_and_delete(server: MCPServer[Any]) -> None:
    async def check(client: Client) -> None:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert {"rag_index", "rag_search", "rag_answer", "rag_collections", "rag_delete"} <= set(tools)
        assert set(tools["rag_answer"].input_schema["properties"]) == {
            "collection",
            "question",
            "k",
            "mode",
            "min_score",
            "reranker",
            "candidates",
        }
        assert tools["rag_delete"].annotations and tools["rag_delete"].annotations.destructive_hint

        done = ok(
            await client.call_tool(
                "rag_index",
                {
                    "collection": "docs",
                    "paths": ["tickets.md"],
                    "documents": [{"id": "cats", "text": "Cats purr."}],
                },
            )
        )
        assert [(d["id"], d["chunks"]) for d in done["documents"]] == [("cats", 1), ("tickets.md", 1)]
        found = ok(
            await client.call_tool(
                "rag_search", {"collection": "docs", "query": "cat", "mode": "dense", "k": 1}
            )
        )
        assert found["hits"][0]["document_id"] == "cats" and found["reranker"] is None
        listed = ok(await client.call_tool("rag_collections", {}))["collections"]
        assert [(c["name"], c["documents"], c["embedding_model"]) for c in listed] == [
            ("docs", 2, "all-MiniLM-L6-v2")
        ]
        removed = ok(await client.call_tool("rag_delete", {"collection": "docs", "document_ids": ["cats"]}))
        assert removed["deleted_documents"] == ["cats"] and removed["remaining_chunks"] == 1

    run(server, check)


def test_search_and_answer_rerank_with_a_cross_encoder_and_refuse_a_bad_one(
    server: MCPServer[Any], tmp_path: Path
) -> None:
    checkpoint = save_cross_encoder(tmp_path / "ce")
    query = "nightly export"

    async def check(client: Client) -> None:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert {"reranker", "candidates"} <= set(tools["rag_search"].input_schema["properties"])
        ok(
            await client.call_tool(
                "rag_index",
                {
                    "collection": "rr",
                    "paths": ["tickets.md"],
                    "chunking": "lines",
                    "chunk_size": 24,
                    "overlap": 0,
                },
            )
        )
        search = {"collection": "rr", "query": query, "k": 2}
        plain = ok(await client.call_tool("rag_search", {**search, "k": 3}))
        assert plain["reranker"] is None and plain["reranker_note"].startswith("no reranker is applied")
        found = ok(await client.call_tool("rag_search", {**search, "reranker": str(checkpoint)}))
        assert found["reranker"] == str(checkpoint.resolve())
        assert found["reranker_note"].startswith("reranked the top 3 hybrid hits with ")
        texts = [h["text"] for h in plain["hits"]]
        scores = dict(zip(texts, direct_scores(checkpoint, query, texts), strict=True))
        best = sorted(texts, key=lambda t: -scores[t])[:2]
        assert [h["text"] for h in found["hits"]] == best
        assert [h["rerank_score"] for h in found["hits"]] == pytest.approx(
            [scores[t] for t in best], abs=1e-5
        )
        answer = ok(
            await client.call_tool(
                "rag_answer", {"collection": "rr", "question": query, "k": 2, "reranker": str(checkpoint)}
            )
        )
        assert [h["text"] for h in answer["context"]["hits"]] == best
        assert answer["context"]["reranker"] == found["reranker"]
        for name, message in [
            ("nobody/no-such-cross-encoder", "is not in the local Hugging Face cache and downloads are off"),
            (str(tmp_path), "is not a checkpoint (no config.json)"),
        ]:
            result = await client.call_tool("rag_search", {**search, "reranker": name})
            assert result.is_error and message in text_of(result), text_of(result)
        again = ok(await client.call_tool("rag_search", {**search, "reranker": str(checkpoint)}))
        assert again["hits"] == found["hits"]  # the server is still up, and the reranker still cached

    run(server, check)


@pytest.mark.parametrize(
    ("mode", "callback", "status", "note"),
    [
        ("auto", sample_ok, "produced", "host-llm"),
        ("legacy", sample_ok, "produced", "host-llm"),
        ("auto", None, "client_cannot_sample", "no answer was generated"),
        ("legacy", sample_refuses, "declined", "user refused sampling"),
    ],
)
def test_rag_answer_with_and_without_sampling(
    server: MCPServer[Any], mode: str, callback: Any, status: str, note: str
) -> None:
    async def check(client: Client) -> None:
        ok(
            await client.call_tool(
                "rag_index",
                {
                    "collection": "answers",
                    "paths": ["tickets.md"],
                    "chunking": "lines",
                    "chunk_size": 24,  # tokens: one ticket line each
                    "overlap": 0,
                },
            )
        )
        content = ok(
            await client.call_tool("rag_answer", {"collection": "answers", "question": "QX7734ZK", "k": 2})
        )
        assert content["answer_status"] == status and note in content["answer_note"]
        assert content["answer"] == (ANSWER if status == "produced" else None)
        hits = content["context"]["hits"]
        assert len(hits) == 2 and "QX7734ZK" in hits[0]["text"]
        assert content["prompt"].startswith("Context:\n\n[1] (tickets.md#1)\nTicket QX7734ZK")

    run(server, check, mode=mode, **({"sampling_callback": callback} if callback else {}))


@pytest.mark.parametrize(
    ("tool", "args", "message"),
    [
        (
            "rag_index",
            {"collection": "Bad Name", "documents": [{"text": "x"}]},
            "String should match pattern '^[a-z0-9_-]{1,64}$'",
        ),
        ("rag_index", {"collection": "c", "paths": ["report.pdf"]}, "allowed suffixes: .txt, .md, .rst"),
        ("rag_index", {"collection": "c", "paths": ["/etc/passwd.txt"]}, "outside the allowed roots"),
        (
            "rag_index",
            {"collection": "c", "documents": [{"text": "x"}] * 101},
            "over the limit of 100 (raise it with GENAI_MCP_RAG_MAX_DOCUMENTS)",
        ),
        (
            "rag_index",
            {"collection": "c", "documents": [{"text": "x" * 1_000_001}]},
            "over the limit of 1000000 (raise it with GENAI_MCP_RAG_MAX_DOCUMENT_CHARS)",
        ),
        (
            "rag_index",
            {"collection": "c", "documents": [{"text": "x"}], "chunk_size": 10, "overlap": 10},
            "overlap (10) must be smaller than chunk_size (10)",
        ),
        ("rag_search", {"collection": "nope", "query": "x"}, "no collection named 'nope'"),
        (
            "rag_search",
            {"collection": "docs", "query": "x", "k": 51},
            "k is 51, over the limit of 50 (raise it with GENAI_MCP_RAG_MAX_K)",
        ),
        (
            "rag_search",
            {"collection": "docs", "query": "x" * 2001},
            "query length in chars is 2001, over the limit of 2000 (raise it with GENAI_MCP_RAG_MAX_QUERY_CHARS)",
        ),
        (
            "rag_search",
            {"collection": "docs", "query": "x", "mode": "fuzzy"},
            "Input should be 'dense', 'keyword' or 'hybrid'",
        ),
        ("rag_answer", {"collection": "nope", "question": "x"}, "no collection named 'nope'"),
        ("rag_delete", {"collection": "nope"}, "no collection named 'nope'"),
    ],
)
def test_bad_inputs_are_tool_errors_that_name_the_problem(
    server: MCPServer[Any], tool: str, args: dict[str, Any], message: str
) -> None:
    async def check(client: Client) -> None:
        result = await client.call_tool(tool, args)
        assert result.is_error and message in text_of(result), text_of(result)

    run(server, check)


def test_settings_bound_the_tools_and_place_the_store(tmp_path: Path) -> None:
    settings = ServerSettings(
        data_dir=tmp_path / "data", rag_device="cpu", rag_max_k=2, rag_max_documents=1, log_level="WARNING"
    )
    server = create_server(settings)

    async def check(client: Client) -> None:
        done = ok(
            await client.call_tool(
                "rag_index", {"collection": "s", "documents": [{"id": "a", "text": "Hi."}]}
            )
        )
        assert done["embedding_device"] == "cpu" and done["truncated_chunks"] == 0
        assert (settings.rag_dir / "s" / "meta.sqlite").is_file()
        cases: list[tuple[str, dict[str, Any], str]] = [
            (
                "rag_search",
                {"collection": "s", "query": "hi", "k": 3},
                "k is 3, over the limit of 2 (raise it with GENAI_MCP_RAG_MAX_K)",
            ),
            (
                "rag_index",
                {"collection": "s", "documents": [{"text": "a"}, {"text": "b"}]},
                "documents in one call is 2, over the limit of 1 (raise it with GENAI_MCP_RAG_MAX_DOCUMENTS)",
            ),
        ]
        for tool, args, message in cases:
            result = await client.call_tool(tool, args)
            assert result.is_error and message in text_of(result), text_of(result)

    run(server, check)


@pytest.mark.parametrize(
    ("device", "message"),
    [
        (
            "gpu0",
            "unknown device 'gpu0'; allowed: auto, cpu, cuda, cuda:N (see GENAI_MCP_RAG_DEVICE)",
        ),
        ("cuda:7", "(see GENAI_MCP_RAG_DEVICE)"),
    ],
)
def test_a_bad_embedding_device_is_a_tool_error_naming_the_setting(
    tmp_path: Path, device: str, message: str
) -> None:
    server = create_server(ServerSettings(data_dir=tmp_path, rag_device=device, log_level="WARNING"))

    async def check(client: Client) -> None:
        for _ in range(2):  # the server stays up and answers the same way
            result = await client.call_tool(
                "rag_index", {"collection": "d", "documents": [{"text": "some text"}]}
            )
            assert result.is_error and message in text_of(result), text_of(result)
        assert ok(await client.call_tool("rag_collections", {}))["collections"] == []

    run(server, check)
