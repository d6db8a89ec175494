"""Labelled retrieval quality through the MCP tools: rag_index, rag_search per mode, retrieval_metrics.

The set (tests/data/rag_eval.json, also read by bench/rag.py) labels pydoc_data topics; its exact
queries quote identifiers and numbers, where the embedding alone misses some.
"""

from __future__ import annotations

import json
import pydoc_data.topics
from pathlib import Path

import anyio
from mcp import Client

from genai_mcp.server.app import create_server
from genai_mcp.server.settings import ServerSettings
from tests.helpers.results import call_ok as call

EVAL = json.loads((Path(__file__).parents[1] / "data" / "rag_eval.json").read_text(encoding="utf-8"))
MODES = ("dense", "keyword", "hybrid")


def test_hybrid_recall_at_5_is_at_least_the_better_single_mode(tmp_path: Path) -> None:
    corpus, k = EVAL["corpus"], EVAL["k"]
    documents = [
        {"id": name, "text": text[: corpus["head_chars"]]} for name, text in pydoc_data.topics.topics.items()
    ]
    queries = EVAL["queries"]
    server = create_server(ServerSettings(data_dir=tmp_path, log_level="WARNING"))
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
    report = "recall@5 by mode: " + json.dumps(recall)
    assert set(recall) == set(MODES) and all(0 <= r["all"] <= 1 for r in recall.values()), report
    assert recall["hybrid"]["all"] >= max(recall["dense"]["all"], recall["keyword"]["all"]), report
    assert recall["dense"]["exact"] < recall["keyword"]["exact"] <= recall["hybrid"]["exact"], report
    assert recall["hybrid"]["all"] >= 0.9, report
