"""RAG collections outlive the server: index in one `genai-mcp serve` process, search from the next."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

from tests.helpers.processes import server_env
from tests.helpers.results import call_ok as call

DOCS = [
    {"id": "fr", "text": "Paris is the capital of France.\n\nThe Seine flows through Paris."},
    {"id": "eg", "text": "The Nile flows north into the Mediterranean Sea."},
    {"id": "ticket", "text": "Ticket QX7734ZK: the office coffee machine needs descaling."},
]
QUERIES = [
    ("dense", "which river runs through the French capital"),
    ("keyword", "QX7734ZK"),
    ("hybrid", "Nile"),
]


def test_a_collection_survives_a_server_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "genai_mcp.server.cli", "serve"], env=server_env(data_dir)
    )

    async def searches(client: Client) -> list[list[tuple[str, int, str, float]]]:
        found = []
        for mode, query in QUERIES:
            hits = (
                await call(client, "rag_search", {"collection": "kept", "query": query, "k": 2, "mode": mode})
            )["hits"]
            found.append([(h["document_id"], h["chunk"], h["text"], round(h["score"], 4)) for h in hits])
        return found

    async def main() -> None:
        async with Client(params) as first:
            done = await call(
                first, "rag_index", {"collection": "kept", "documents": DOCS, "chunk_size": 12, "overlap": 0}
            )
            assert (done["total_chunks"], done["generation"]) == (5, 1)
            before = await searches(first)
        assert [hits[0][0] for hits in before] == ["fr", "ticket", "eg"]
        assert (data_dir / "rag" / "kept" / "index-1.faiss").is_file()

        async with Client(params) as second:  # a new process on the same data folder
            listed = (await call(second, "rag_collections", {}))["collections"]
            assert [(c["name"], c["documents"], c["chunks"], c["generation"]) for c in listed] == [
                ("kept", 3, 5, 1)
            ]
            assert await searches(second) == before
            again = await call(second, "rag_index", {"collection": "kept", "documents": DOCS[1:2]})
            assert (again["documents"][0]["replaced_chunks"], again["generation"]) == (1, 2)

    anyio.run(main)
