"""RAG collections as MCP resources: rag://collections and rag://collections/{collection}.

The one collection's resource adds its documents (id and chunk count, the first
DOCUMENTS_LISTED by id) to what rag_collections reports. A collection under the list's own
address would be unreachable, so one collection lives one level down.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError

from genai_mcp.server.state import ServerState
from genai_mcp.tools import rag
from genai_mcp.tools.errors import GenAIError
from genai_mcp.tools.rag.schemas import COLLECTION_PATTERN

__all__ = ["COLLECTION_URI_PREFIX", "DOCUMENTS_LISTED", "register"]

COLLECTION_URI_PREFIX = "rag://collections/"
DOCUMENTS_LISTED = 1000
_NAME = re.compile(COLLECTION_PATTERN)


def register(server: MCPServer[Any], state: ServerState) -> None:
    store = state.rag

    @server.resource(
        "rag://collections",
        name="rag-collections",
        title="RAG collections",
        description="Every collection with its document and chunk counts, generation and embedding model.",
        mime_type="application/json",
    )
    def collections() -> str:
        listed = [
            {**info.model_dump(mode="json"), "uri": COLLECTION_URI_PREFIX + info.name}
            for info in rag.list_collections(store).collections
        ]
        return json.dumps({"collections": listed, "location": store.location}, indent=2)

    @server.resource(
        "rag://collections/{collection}",
        name="rag-collection",
        title="One RAG collection",
        description=(
            "A collection's counts, generation and embedding model, and its documents (id and chunks; "
            f"the first {DOCUMENTS_LISTED} by id) as JSON."
        ),
        mime_type="application/json",
    )
    def collection(collection: str) -> str:
        if not _NAME.fullmatch(collection):
            raise ResourceNotFoundError(
                f"{collection[:80]!r} is not a collection name (1-64 of a-z, 0-9, '_' and '-')"
            )
        try:
            info = rag.collection_info(store, collection)
            documents = store.documents(collection, DOCUMENTS_LISTED)
        except GenAIError as exc:
            raise ResourceNotFoundError(str(exc)) from None
        body = {
            **info.model_dump(mode="json"),
            "documents_listed": [{"id": doc_id, "chunks": chunks} for doc_id, chunks in documents],
        }
        return json.dumps(body, indent=2)
