"""The HTTP request body limit: derived from the tool limits (or set), a 5 MB image accepted over real
HTTP, a body over the limit refused with an error naming the limit and the setting."""

from __future__ import annotations

import anyio
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from genai_mcp.server.limits import REQUEST_MARGIN_BYTES, live_values, request_body_limit
from genai_mcp.server.settings import ServerSettings
from tests.helpers.images import b64, noise_png
from tests.helpers.mcp_http import JSON_AND_SSE, request
from tests.helpers.processes import TOKEN, HttpServer

MiB = 2**20
DEFAULT_LIMIT = 4 * -(-20 * MiB // 3) + 64 + MiB  # a 20 MiB image in a base64 data: URI, and 1 MiB


def test_the_default_limit_fits_one_image_at_the_image_limit() -> None:
    limit = request_body_limit(ServerSettings())
    assert limit.bytes == DEFAULT_LIMIT == 29_010_668
    assert "GENAI_MCP_MAX_IMAGE_BYTES (20971520 bytes" in limit.basis
    assert live_values(ServerSettings())["server.max_request_bytes"] == DEFAULT_LIMIT


def test_the_limit_follows_the_live_limits_unless_set() -> None:
    bigger_images = request_body_limit(ServerSettings(max_image_bytes=30 * MiB))
    assert bigger_images.bytes == 4 * -(-30 * MiB // 3) + 64 + REQUEST_MARGIN_BYTES
    # A text limit whose JSON (6 bytes a character at most) outgrows the image's takes over.
    long_texts = request_body_limit(ServerSettings(lora_max_text_chars=10_000_000))
    assert long_texts.bytes == 60_000_000 + REQUEST_MARGIN_BYTES
    assert "GENAI_MCP_LORA_MAX_TEXT_CHARS (10000000 characters" in long_texts.basis
    chosen = request_body_limit(ServerSettings.load(env={"GENAI_MCP_MAX_REQUEST_BYTES": "5000000"}))
    assert (chosen.bytes, chosen.basis) == (5_000_000, "set explicitly")


def test_a_5_mb_image_is_classified_over_http_and_a_bigger_body_is_refused_by_name(
    http_server: HttpServer,
) -> None:
    png = noise_png(1300, 1300)
    assert 4 * MiB < len(png) < 20 * MiB  # over the SDK's default body limit, under the image limit
    oversized = "iVBORw0KGgo" + "A" * DEFAULT_LIMIT  # past the limit before it is even parsed

    async def main() -> None:
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120) as http:
            async with Client(streamable_http_client(http_server.mcp_url, http_client=http)) as client:
                result = await client.call_tool("classify_image", {"image": b64(png), "top_k": 2})
                assert not result.is_error, result.content
                assert result.structured_content is not None
                assert len(result.structured_content["results"][0]["labels"]) == 2

                with pytest.raises(MCPError) as refused:
                    await client.call_tool("classify_image", {"image": oversized})
                error = refused.value.error
                assert error.code == -32600
                assert f"over the server's limit of {DEFAULT_LIMIT} bytes (27.7 MiB)" in error.message
                assert "start the server with a larger GENAI_MCP_MAX_REQUEST_BYTES" in error.message
                assert "GENAI_MCP_MAX_IMAGE_BYTES" in error.message
                assert error.data["limit"] == DEFAULT_LIMIT
                assert error.data["setting"] == "GENAI_MCP_MAX_REQUEST_BYTES"
                assert error.data["size"] > DEFAULT_LIMIT

                # The server stays up and the same session's next call works.
                again = await client.call_tool("classify_image", {"image": b64(png), "top_k": 1})
                assert not again.is_error, again.content

        # On the wire: a 413 whose body is a JSON-RPC error (id null: the request was never parsed).
        call = request(9, "tools/call", name="classify_image", arguments={"image": oversized})
        async with httpx2.AsyncClient(timeout=120) as raw:
            headers = JSON_AND_SSE | {"Authorization": f"Bearer {TOKEN}"}
            response = await raw.post(http_server.mcp_url, json=call, headers=headers)
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["id"] is None and body["error"]["data"]["setting"] == "GENAI_MCP_MAX_REQUEST_BYTES"

    anyio.run(main)
