"""Labelled retrieval quality through the MCP tools: rag_index, rag_search per mode, retrieval_metrics.

The set (tests/data/rag_eval.json, also read by bench/rag.py) labels pydoc_data topics; its exact
queries quote identifiers and numbers, where the embedding alone misses some. With
GENAI_MCP_DATABASE_URL (collections in PostgreSQL) each mode's recall stays within 0.05 of the
embedded store's.
"""

from __future__ import annotations

import json
import pydoc_data.topics
from pathlib import Path

import anyio
import pytest
from mcp import Client

from genai_mcp.server.app import create_server
from genai_mcp.server.settings import ServerSettings
from tests.helpers.postgres import running_postgres
from tests.helpers.results import call_ok as call

EVAL = json.loads((Path(__file__).parents[1] / "data" / "rag_eval.json").read_text(encoding="utf-8"))
MODES = ("dense", "keyword", "hybrid")


def recall_by_mode(settings: ServerSettings) -> dict[str, dict[str, float]]:
    """{mode: {all, semantic, exact: mean recall@k}} of the labelled set on a server with `settings`."""
    corpus, k = EVAL["corpus"], EVAL["k"]
    documents = [
        {"id": name, "text": text[: corpus["head_chars"]]} for name, text in pydoc_data.topics.topics.items()
    ]
    queries = EVAL["queries"]
    server = create_server(settings)
    recall: dict[str, dict[str, float]] = {}

    async def main() -> None:
        async with Client(server) as client:
            done = await call(
                client,
                "rag_index",
                {
                    "collection": "pydoc",
                    "documents": documents,
                    "chunking": corpus["chunking"],
                    "chunk_size": corpus["chunk_size"],
                    "overlap": corpus["overlap"],
                },
            )
            assert done["total_documents"] == len(documents) and done["truncated_chunks"] == 0
            for mode in MODES:
                scored = []
                for q in queries:
                    found = await call(
                        client,
                        "rag_search",
                        {"collection": "pydoc", "query": q["query"], "k": 20, "mode": mode},
                    )
                    topics = list(dict.fromkeys(h["document_id"] for h in found["hits"]))
                    scored.append(
                        {"query_id": q["kind"], "retrieved": topics[:10], "relevant": q["relevant"]}
                    )
                metrics = await call(client, "retrieval_metrics", {"queries": scored, "k": k})
                per_query = [m["at_k"][0]["recall"] for m in metrics["per_query"]]
                recall[mode] = {
                    "all": metrics["mean_at_k"][0]["recall"],
                    **{
                        kind: sum(r for r, q in zip(per_query, queries, strict=True) if q["kind"] == kind)
                        / sum(q["kind"] == kind for q in queries)
                        for kind in ("semantic", "exact")
                    },
                }

    anyio.run(main)
    return recall


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, float]]:
    """The embedded store's figures (SQLite FTS5 bm25 + FAISS files), the reference of this module."""
    return recall_by_mode(ServerSettings(data_dir=tmp_path_factory.mktemp("embedded"), log_level="WARNING"))


def test_hybrid_recall_at_5_is_at_least_the_better_single_mode(embedded: dict[str, dict[str, float]]) -> None:
    recall = embedded
    report = "recall@5 by mode: " + json.dumps(recall)
    assert set(recall) == set(MODES) and all(0 <= r["all"] <= 1 for r in recall.values()), report
    assert recall["hybrid"]["all"] >= max(recall["dense"]["all"], recall["keyword"]["all"]), report
    assert recall["dense"]["exact"] < recall["keyword"]["exact"] <= recall["hybrid"]["exact"], report
    assert recall["hybrid"]["all"] >= 0.9, report


def test_postgresql_collections_recall_within_0_05_of_the_embedded_store(
    embedded: dict[str, dict[str, float]], tmp_path: Path
) -> None:
    with running_postgres() as url:
        shared = recall_by_mode(ServerSettings(data_dir=tmp_path, database_url=url, log_level="WARNING"))
    report = "recall@5 by mode, PostgreSQL vs embedded: " + json.dumps({"pg": shared, "embedded": embedded})
    for mode in MODES:
        assert abs(shared[mode]["all"] - embedded[mode]["all"]) <= 0.05, report
