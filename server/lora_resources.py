"""LoRA adapters as MCP resources: the list, each adapter's metadata, and its model card."""

from __future__ import annotations

import json
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError

from genai_mcp.tools.errors import GenAIError
from genai_mcp.tools.lora.store import AdapterStore

__all__ = ["register_adapter_resources"]


def register_adapter_resources(server: MCPServer[Any], store: AdapterStore) -> None:
    @server.resource(
        "adapters://list",
        name="adapters",
        title="LoRA adapters",
        description="Adapters saved by lora_finetune: task, base model, rank, held-out metric before/after.",
        mime_type="application/json",
    )
    def adapters_list() -> str:
        infos = store.list()
        return json.dumps(
            {
                "adapters": [
                    {**info.model_dump(mode="json"), "uri": f"adapters://{info.name}"} for info in infos
                ],
                "directory": str(store.root),
            },
            indent=2,
        )

    @server.resource(
        "adapters://{name}",
        name="adapter",
        title="One LoRA adapter",
        description="An adapter's metadata (task, base model, settings, metrics) as JSON.",
        mime_type="application/json",
    )
    def adapter_info(name: str) -> str:
        try:
            return store.info(name).model_dump_json(indent=2)
        except GenAIError as exc:
            raise ResourceNotFoundError(str(exc)) from None

    @server.resource(
        "adapters://{name}/card",
        name="adapter-card",
        title="Model card of a LoRA adapter",
        description="The adapter's card: base model, data, settings, metrics, and how to use it.",
        mime_type="text/markdown",
    )
    def adapter_card(name: str) -> str:
        try:
            path = store.path(store.info(name).name) / "README.md"
        except GenAIError as exc:
            raise ResourceNotFoundError(str(exc)) from None
        if not path.is_file():
            raise ResourceNotFoundError(f"adapter {name!r} has no model card")
        return path.read_text(encoding="utf-8")
