"""Files this server produced (generated images) as MCP resources: genai-mcp://outputs/<name>."""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError

from genai_mcp.server.state import ServerState
from genai_mcp.tools.errors import GenAIError

__all__ = ["register"]


def register(server: MCPServer[Any], state: ServerState) -> None:
    @server.resource(
        "genai-mcp://outputs/{name}",
        name="output",
        title="A generated image",
        description="A full-size PNG a tool produced (tools return links to these).",
        mime_type="image/png",
    )
    def output(name: str) -> bytes:
        try:
            return state.outputs.read(name)
        except GenAIError as exc:
            raise ResourceNotFoundError(str(exc)) from exc
