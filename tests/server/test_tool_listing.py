"""tools/list from its wire form (server/tool_listing.py): the same listing as the SDK's own path,
per protocol era, a fresh copy for every caller, and the initialization gate kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from genai_mcp.server.app import create_server
from genai_mcp.server.settings import ServerSettings
from genai_mcp.server.tool_listing import ToolListing


def listing_of(server: Any) -> ToolListing:
    return next(m for m in server.middleware if isinstance(m, ToolListing))


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_repeated_listings_equal_the_sdks_own(tmp_path: Path, mode: str) -> None:
    server = create_server(ServerSettings(data_dir=tmp_path))
    listing = listing_of(server)

    async def main() -> None:
        async with Client(server, mode=mode) as c:  # type: ignore[arg-type]
            first = (await c.list_tools()).tools
            again = (await c.list_tools()).tools  # from the stored wire form
            server.middleware.remove(listing)
            uncached = (await c.list_tools()).tools  # the SDK's whole path again
            server.middleware.append(listing)
            assert [t.model_dump() for t in again] == [t.model_dump() for t in first]
            assert [t.model_dump() for t in uncached] == [t.model_dump() for t in first]
            assert len(listing._wire) == 1

    anyio.run(main)


def test_each_era_gets_its_own_form_and_callers_never_share_a_dict(tmp_path: Path) -> None:
    server = create_server(ServerSettings(data_dir=tmp_path))
    listing = listing_of(server)

    async def main() -> None:
        async with Client(server, mode="legacy") as old, Client(server) as new:
            assert old.protocol_version != new.protocol_version
            await old.list_tools()
            await new.list_tools()
            assert len(listing._wire) == 2
            one = (await new.list_tools()).tools
            one[0].input_schema["properties"]["mutated"] = {"type": "string"}
            two = (await new.list_tools()).tools
            assert "mutated" not in two[0].input_schema["properties"]

    anyio.run(main)
