"""The four kinds of tool this server has, as MCP tool annotations (all four hints set).

    PURE        reads only; the same arguments give the same answer (metrics, classifiers, search)
    VARIES      reads only, but each call may answer differently (sampling text, the client's LLM)
    WRITES_NEW  writes new files, never replaces one; no seed means a new result (images, training)
    REMOVES     deletes or replaces what is named; doing it twice leaves the same state

openWorldHint is False here; a tool that may reach past this machine (hub downloads, URL fetches,
the client's LLM) says so with ToolSpec.opening(...) where it is registered.
"""

from __future__ import annotations

from mcp.types import ToolAnnotations

__all__ = ["PURE", "REMOVES", "VARIES", "WRITES_NEW"]


def _hints(*, read_only: bool, destructive: bool, idempotent: bool) -> ToolAnnotations:
    return ToolAnnotations(
        read_only_hint=read_only,
        destructive_hint=destructive,
        idempotent_hint=idempotent,
        open_world_hint=False,
    )


PURE = _hints(read_only=True, destructive=False, idempotent=True)
VARIES = _hints(read_only=True, destructive=False, idempotent=False)
WRITES_NEW = _hints(read_only=False, destructive=False, idempotent=False)
REMOVES = _hints(read_only=False, destructive=True, idempotent=True)
