"""Resumable SSE streams over a real `genai-mcp serve --transport http` process: a long sample_images
call's stream is cut and resumed with Last-Event-ID, by hand and by the SDK's own client, and
another session cannot resume it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.helpers.mcp_http import events, open_session, request
from tests.helpers.processes import TOKEN, start_http_server, stop
from tests.helpers.proxy import cutting_proxy

STEPS = 200  # house DDPM steps: about two seconds of progress on this machine
RETRY_MS = 150
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def messages(batch: list[httpx2.ServerSentEvent]) -> list[dict[str, Any]]:
    return [json.loads(e.data) for e in batch if e.data]


def progress_of(batch: list[httpx2.ServerSentEvent]) -> list[float]:
    return [m["params"]["progress"] for m in messages(batch) if m.get("method") == "notifications/progress"]


def resume(
    http: httpx2.Client, url: str, session: dict[str, str], last: str, limit: int | None = None
) -> list[Any]:
    headers = session | {"Accept": "text/event-stream", "Last-Event-ID": last}
    with http.stream("GET", url, headers=headers) as response:
        return events(response, limit)


def test_a_cut_stream_resumes_with_the_rest_of_the_progress_and_the_result(tmp_path: Path) -> None:
    server = start_http_server(tmp_path, GENAI_MCP_TOKENS=TOKEN, GENAI_MCP_SSE_RETRY_MS=str(RETRY_MS))
    url = server.mcp_url
    call = request(
        2,
        "tools/call",
        name="sample_images",
        arguments={"num_images": 1, "steps": STEPS, "seed": 3},
        _meta={"progressToken": "sample"},
    )
    try:
        with httpx2.Client(headers=AUTH, timeout=120) as http:
            session = open_session(http, url)

            # The call's own stream: a priming event, then progress; the client drops it after 3 events.
            with http.stream("POST", url, json=call, headers=session) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                first = events(response, 4)
            priming = first[0]
            assert priming.id and priming.data == "" and priming.retry == RETRY_MS
            assert len(progress_of(first)) == 3

            # Resumed from the last event read, and dropped again; then resumed to the end, where
            # the stream closes after the call's response, as the POST's own stream would have.
            second = resume(http, url, session, first[-1].id, 3)
            rest = resume(http, url, session, second[-1].id)

            received = first[1:] + second + rest
            # Event ids are <stream>-<n>, n counting every event the store keeps; nothing else is
            # stored in this session meanwhile, so consecutive n: none lost, none sent twice.
            numbers = [int(e.id.split("-")[1]) for e in [priming, *received]]
            assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
            steps = progress_of(received)
            assert steps == sorted(set(steps)) and steps[-1] == STEPS and progress_of(rest)
            final = messages(rest)[-1]
            assert final["id"] == 2 and not final["result"]["isError"], final
            result = final["result"]["structuredContent"]
            assert result["steps"] == STEPS and len(result["images"]) == 1

            # Another session cannot read this stream: its replay is empty (and ends), as is one
            # from an id that names no event.
            other = open_session(http, url)
            assert resume(http, url, other, first[-1].id) == []
            assert resume(http, url, session, "not-an-event-id") == []

            # The session goes on: the next call is answered on its own stream.
            with http.stream("POST", url, json=request(3, "tools/list"), headers=session) as response:
                answer = messages(events(response))[-1]
            assert answer["id"] == 3 and answer["result"]["tools"]
    finally:
        stop(server.process)


def test_the_sdk_client_resumes_a_cut_stream_by_itself(tmp_path: Path) -> None:
    server = start_http_server(tmp_path, GENAI_MCP_TOKENS=TOKEN, GENAI_MCP_SSE_RETRY_MS=str(RETRY_MS))
    port = int(server.url.rsplit(":", 1)[1])
    seen: list[tuple[float, bool]] = []  # (progress, whether the stream had been cut by then)

    async def main() -> None:
        async with cutting_proxy(port, b"notifications/progress", 2) as proxy:

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                seen.append((progress, proxy.cut.is_set()))

            async with httpx2.AsyncClient(headers=AUTH, timeout=120) as http:
                target = streamable_http_client(proxy.url + "/mcp", http_client=http)
                # Streams with event ids are the 2025-11-25 era's: a legacy session.
                async with Client(target, mode="legacy") as client:
                    # Listed first, so the client checks the result against a schema it already has
                    # rather than ask for it after the call, on a pooled connection the server may
                    # just have closed as idle (uvicorn: 5 s; seen once as "Server disconnected
                    # without sending a response").
                    await client.list_tools()
                    arguments = {"num_images": 1, "steps": STEPS, "seed": 4}
                    result = await client.call_tool("sample_images", arguments, progress_callback=on_progress)
            assert proxy.cut.is_set()
        assert not result.is_error, result.content
        assert result.structured_content is not None and result.structured_content["steps"] == STEPS
        steps = [p for p, _ in seen]
        assert steps == sorted(set(steps)) and steps[-1] == STEPS
        assert any(cut for _, cut in seen)  # progress kept coming on the resumed stream

    try:
        anyio.run(main)
    finally:
        stop(server.process)
