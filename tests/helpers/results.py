"""Reading tool results, and running checks through an in-memory MCP Client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from mcp import Client
from mcp.server import MCPServer
from mcp.types import CallToolResult, TextContent

__all__ = ["call_ok", "ok", "run_client", "text_of"]


def text_of(result: CallToolResult) -> str:
    """The text of a tool result's first content block (errors and JSON mirrors are text)."""
    block = result.content[0]
    assert isinstance(block, TextContent), block
    return block.text


def ok(result: CallToolResult) -> dict[str, Any]:
    """The structured result of a tool call that must have succeeded (failing with its error text)."""
    assert not result.is_error, text_of(result)
    content: dict[str, Any] | None = result.structured_content
    assert content is not None
    return content


async def call_ok(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    return ok(await client.call_tool(tool, args))


def run_client(server: MCPServer[Any], check: Callable[[Client], Awaitable[None]], **client: Any) -> None:
    """Connect an in-memory Client (options: mode, callbacks...) to `server` and run `check` with it."""

    async def main() -> None:
        async with Client(server, **client) as c:
            await check(c)

    anyio.run(main)
