"""MCP by hand over streamable HTTP with httpx2: what a test needs to see the wire itself (SSE event
ids, the priming event, `retry`, Last-Event-ID), which the SDK's client hides."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

import httpx2

__all__ = ["JSON_AND_SSE", "PROTOCOL", "events", "open_session", "request"]

PROTOCOL = "2025-11-25"  # the era whose sessions have SSE streams with event ids
JSON_AND_SSE = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def request(id: int, method: str, **params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id, "method": method, "params": params}


def open_session(http: httpx2.Client, url: str) -> dict[str, str]:
    """initialize and notifications/initialized on `url`: the headers every later request of the
    session sends (session id, protocol version, Accept, Content-Type)."""
    init = request(
        1, "initialize", protocolVersion=PROTOCOL, capabilities={}, clientInfo={"name": "raw", "version": "0"}
    )
    response = http.post(url, json=init, headers=JSON_AND_SSE)
    assert response.status_code == 200, response.text
    headers = JSON_AND_SSE | {
        "Mcp-Session-Id": response.headers["mcp-session-id"],
        "MCP-Protocol-Version": PROTOCOL,
    }
    initialized = http.post(
        url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers
    )
    assert initialized.status_code == 202, initialized.text
    return headers


def events(response: httpx2.Response, limit: int | None = None) -> list[httpx2.ServerSentEvent]:
    """The SSE events of `response`: the first `limit` (then stop reading), or all until it ends."""
    assert response.status_code == 200, response.read()
    stream: Iterator[httpx2.ServerSentEvent] = iter(httpx2.EventSource(response))
    return list(islice(stream, limit))
