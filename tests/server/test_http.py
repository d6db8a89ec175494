"""A real `genai-mcp serve --transport http` process: auth, Host/Origin checks, health, metadata."""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.helpers.processes import TOKEN, HttpServer, loaded_shared_objects, serve_command, server_env

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "probe", "version": "0"},
    },
}
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def post_init(server: HttpServer, **headers: str) -> httpx2.Response:
    return httpx2.post(server.mcp_url, json=INIT, headers=ACCEPT | headers, timeout=10)


def test_missing_and_wrong_token_get_different_401s_with_metadata_pointer(http_server: HttpServer) -> None:
    metadata = f'resource_metadata="{http_server.url}/.well-known/oauth-protected-resource/mcp"'
    # No credentials at all, or none of the Bearer scheme: no error code (RFC 6750 section 3.1).
    for headers in ({}, {"Authorization": "Basic eDp5"}):
        r = post_init(http_server, **headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"] == f"Bearer {metadata}"
        assert r.json() == {
            "error_description": "a bearer token is required: send the header Authorization: Bearer <token>"
        }
    # A token that is not valid says so, with the error code.
    for token in ("wrong-token-0123456789", TOKEN[:-1], "x"):
        r = post_init(http_server, Authorization=f"Bearer {token}")
        assert r.status_code == 401, token
        challenge = r.headers["www-authenticate"]
        assert challenge.startswith('Bearer error="invalid_token", ') and challenge.endswith(metadata)
        assert r.json() == {"error": "invalid_token", "error_description": "the bearer token is not valid"}
        assert int(r.headers["content-length"]) == len(r.content)
    # The scheme name is case-insensitive; the right token still gets in, the health check stays open.
    assert post_init(http_server, Authorization=f"bearer {TOKEN}").status_code == 200
    assert httpx2.get(http_server.url + "/health", timeout=5).status_code == 200


def test_right_token_initializes(http_server: HttpServer) -> None:
    r = post_init(http_server, Authorization=f"Bearer {TOKEN}")
    assert r.status_code == 200
    assert "genai-mcp" in r.text and r.headers.get("mcp-session-id")


def test_foreign_origin_is_refused_even_with_token(http_server: HttpServer) -> None:
    r = post_init(http_server, Authorization=f"Bearer {TOKEN}", Origin="http://evil.example")
    assert r.status_code == 403
    r = post_init(http_server, Authorization=f"Bearer {TOKEN}", Host="evil.example:80")
    assert r.status_code == 421


def test_health_is_open_and_metadata_is_served(http_server: HttpServer) -> None:
    health = httpx2.get(http_server.url + "/health", timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    meta = httpx2.get(http_server.url + "/.well-known/oauth-protected-resource/mcp", timeout=5)
    assert meta.status_code == 200
    assert meta.json()["resource"] == http_server.mcp_url


def test_full_client_session_over_http_with_token(http_server: HttpServer) -> None:
    async def main() -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
            async with Client(streamable_http_client(http_server.mcp_url, http_client=http)) as client:
                names = {t.name for t in (await client.list_tools()).tools}
                assert {"text_metrics", "classification_metrics", "retrieval_metrics"} <= names
                result = await client.call_tool(
                    "retrieval_metrics", {"queries": [{"retrieved": ["a", "b"], "relevant": ["b"]}], "k": 2}
                )
                assert not result.is_error, result.content
                assert result.structured_content is not None
        # Listing tools must not pull in the model stacks.
        assert "libtorch" not in loaded_shared_objects(http_server.process.pid)

    anyio.run(main)


def test_public_bind_without_token_refuses_to_start(tmp_path: Path) -> None:
    proc = subprocess.run(
        serve_command("--transport", "http", "--host", "0.0.0.0", "--port", "1"),
        env=server_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--allow-unauthenticated" in proc.stderr and "GENAI_MCP_TOKENS" in proc.stderr
