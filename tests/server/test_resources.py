"""models:// and genai-mcp://outputs/ resources through an in-memory client."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from mcp import Client, MCPError
from mcp.types import BlobResourceContents, TextResourceContents
from PIL import Image

from genai_mcp.server.app import create_server
from genai_mcp.server.settings import ServerSettings
from genai_mcp.server.state import ServerState


def test_model_listing_and_cards() -> None:
    async def main() -> None:
        async with Client(create_server()) as client:
            templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
            assert {"models://{folder}/card", "genai-mcp://outputs/{name}"} <= templates
            listing = (await client.read_resource("models://list")).contents[0]
            assert isinstance(listing, TextResourceContents)
            data = json.loads(listing.text)
            ids = {m["id"] for m in data["house"]}
            assert ids == {
                "house/vit-digits",
                "house/clip-digits",
                "house/gpt2-pydocs",
                "house/ddpm-digits",
                "house/ldm-digits",
            }
            assert data["downloads_allowed"] is False
            card = (await client.read_resource("models://vit-digits/card")).contents[0]
            assert isinstance(card, TextResourceContents) and "held-out" in card.text.lower()
            with pytest.raises(MCPError, match="no house model card 'nope'"):
                await client.read_resource("models://nope/card")

    anyio.run(main)


def test_outputs_are_readable_as_resources(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path)
    stored = ServerState.from_settings(settings).outputs.save_png(Image.new("RGB", (4, 3), "red"), "sample")

    async def main() -> None:
        async with Client(create_server(settings)) as client:
            content = (await client.read_resource(stored.uri)).contents[0]
            assert isinstance(content, BlobResourceContents) and content.mime_type == "image/png"
            with pytest.raises(MCPError, match="does not exist"):
                await client.read_resource("genai-mcp://outputs/sample-000000000000.png")
            with pytest.raises(MCPError, match=r"Unknown resource|not an output name"):
                await client.read_resource("genai-mcp://outputs/..%2Fsecret.png")

    anyio.run(main)
