"""`tools/list` answered from its wire form, built once per protocol version and page.

Every tool registers when the server is built and none changes afterwards, yet the SDK builds,
validates and serializes the whole listing on every request: with 29 tools (~160 KB of JSON
Schema) that is most of a tools/list's cost (~10 ms here), all of it on the event loop, which every
other caller waits behind. A server middleware keeps the first wire result per (protocol version,
params) and answers later requests with a fresh copy of it (a JSON round trip, ~1-2 ms), so callers
never share a dict. The first request of each kind still goes through the SDK's whole path,
initialization gate included; a connection the gate would refuse never gets the copy.

A change to the tool set after start-up would need `ToolListing.clear()`; nothing here does one.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server import MCPServer
from mcp.server.connection import Connection
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

__all__ = ["ToolListing", "install"]

_METHOD = "tools/list"


class ToolListing:
    """The middleware: `await listing(ctx, call_next)`."""

    def __init__(self) -> None:
        self._wire: dict[tuple[str, str], str] = {}

    def clear(self) -> None:
        self._wire.clear()

    async def __call__(self, ctx: ServerRequestContext[Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != _METHOD:
            return await call_next(ctx)
        params = {k: v for k, v in (ctx.params or {}).items() if k != "_meta"}  # the cursor, if any
        key = (ctx.protocol_version, json.dumps(params, sort_keys=True, default=str))
        wire = self._wire.get(key)
        if wire is not None and _gate_open(ctx):
            copy: dict[str, Any] = json.loads(wire)
            return copy
        result = await call_next(ctx)
        if isinstance(result, dict):  # the SDK's wire form; anything else is left to the SDK
            self._wire[key] = json.dumps(result)
        return result


def install(server: MCPServer[Any]) -> ToolListing:
    listing = ToolListing()
    server.middleware.append(listing)
    return listing


def _gate_open(ctx: ServerRequestContext[Any]) -> bool:
    # SDK 2.3 hands middleware a per-request ServerSession; whether its connection passed the
    # initialization gate is on the per-client Connection, reachable only as this attribute.
    connection: Connection | None = getattr(ctx.session, "_connection", None)
    return connection is not None and connection.initialize_accepted
