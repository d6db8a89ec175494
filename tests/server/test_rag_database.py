"""GENAI_MCP_DATABASE_URL: RAG collections in a real PostgreSQL, shared by servers with separate data dirs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from genai_mcp.server.app import create_server
from genai_mcp.server.settings import ServerSettings, SettingsError
from genai_mcp.server.state import rag_store
from tests.helpers.postgres import running_postgres
from tests.helpers.processes import free_port
from tests.helpers.results import call_ok, run_client

DOCUMENTS = [
    {"id": "herons", "text": "Herons stand still in shallow water and spear fish with their beaks."},
    {"id": "kettles", "text": "A kettle boils water for tea on the stove in the kitchen."},
    {"id": "ticket", "text": "Ticket QX7734ZK: the office coffee machine needs descaling."},
]


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with running_postgres() as url:
        yield url


def test_a_database_that_cannot_be_reached_is_refused_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql://postgres:s3cret@127.0.0.1:{free_port()}/postgres"
    with pytest.raises(SettingsError, match="cannot keep RAG collections in the database") as refused:
        rag_store(ServerSettings(data_dir=tmp_path, database_url=url))
    assert "s3cret" not in str(refused.value)


def test_a_collection_indexed_through_one_server_is_searched_and_deleted_through_another(
    postgres: str, tmp_path: Path
) -> None:
    def server(name: str) -> Any:
        return create_server(
            ServerSettings(data_dir=tmp_path / name, database_url=postgres, log_level="WARNING")
        )

    first, second = server("a"), server("b")  # no shared data directory: only the database

    async def index(client: Client) -> None:
        done = await call_ok(client, "rag_index", {"collection": "shared", "documents": DOCUMENTS})
        assert (done["total_documents"], done["generation"]) == (3, 1)

    async def search_and_delete(client: Client) -> None:
        (listed,) = (await call_ok(client, "rag_collections", {}))["collections"]
        assert (listed["name"], listed["documents"], listed["generation"]) == ("shared", 3, 1)
        for mode, query, best in [
            ("dense", "birds catching fish", "herons"),
            ("keyword", "QX7734ZK", "ticket"),
        ]:
            found = await call_ok(
                client, "rag_search", {"collection": "shared", "query": query, "mode": mode}
            )
            assert found["hits"][0]["document_id"] == best, found
        gone = await call_ok(client, "rag_delete", {"collection": "shared", "document_ids": ["herons"]})
        assert gone["deleted_documents"] == ["herons"] and gone["remaining_chunks"] == 2

    async def see_the_delete(client: Client) -> None:
        found = await call_ok(client, "rag_search", {"collection": "shared", "query": "birds catching fish"})
        assert "herons" not in [h["document_id"] for h in found["hits"]]
        await call_ok(client, "rag_delete", {"collection": "shared"})
        assert (await call_ok(client, "rag_collections", {}))["collections"] == []

    run_client(first, index)
    run_client(second, search_and_delete)
    run_client(first, see_the_delete)
    assert not (tmp_path / "a" / "rag").exists() and not (tmp_path / "b" / "rag").exists()
