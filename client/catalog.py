"""What the servers offer, as the host names it: tools and prompts as `server.name`, resources by server."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from mcp.types import Prompt, Resource, ResourceTemplate, Tool

__all__ = ["HostPrompt", "HostResource", "HostResourceTemplate", "HostTool", "pages"]

T = TypeVar("T")


@dataclass(frozen=True)
class HostTool:
    name: str  # "server.tool", what call_tool takes
    server: str
    tool: Tool


@dataclass(frozen=True)
class HostPrompt:
    name: str  # "server.prompt", what get_prompt takes
    server: str
    prompt: Prompt


@dataclass(frozen=True)
class HostResource:
    server: str
    resource: Resource

    @property
    def uri(self) -> str:
        return str(self.resource.uri)


@dataclass(frozen=True)
class HostResourceTemplate:
    server: str
    template: ResourceTemplate

    def matches(self, uri: str) -> bool:
        pattern = re.escape(self.template.uri_template)
        pattern = re.sub(r"\\\{[^}]*\\\}", "[^/]+", pattern)
        return re.fullmatch(pattern, uri) is not None


async def pages(fetch: Callable[[str | None], Awaitable[Any]], items: Callable[[Any], list[T]]) -> list[T]:
    """Every item of a paginated listing (at most 100 pages, against a server that never ends)."""
    collected: list[T] = []
    cursor: str | None = None
    for _ in range(100):
        page = await fetch(cursor)
        collected += items(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    return collected
