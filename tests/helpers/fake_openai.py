"""An OpenAI-style endpoint on 127.0.0.1 for what a real engine (tests/helpers/engine.py, `transformers
serve`) cannot be made to do: check an API key (transformers serve takes none) and answer with a text
known in advance (`echo: <last message>`, so a test can follow one request through a server's tools),
record each request body, and send a malformed stream (`/v1/completions` answers events that are not
JSON). Everything else is tested against the real engine."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = ["OPENAI_KEY", "FakeOpenAI", "serve_fake_openai"]

OPENAI_KEY = "sk-test-0123456789"  # the only API key the endpoint accepts


@dataclass
class FakeOpenAI:
    """The endpoint's base URL and the chat request bodies it received."""

    url: str  # base URL, ending in /v1
    requests: list[dict[str, Any]] = field(default_factory=list)


def _openai_app(record: FakeOpenAI) -> Starlette:
    async def chat(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {OPENAI_KEY}":
            return JSONResponse({"error": {"message": "invalid api key"}}, status_code=401)
        body = await request.json()
        record.requests.append(body)
        answer = "echo: " + body["messages"][-1]["content"]
        head = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": body["model"]}
        events = [
            {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": answer}}]},
            {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {**head, "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}},
        ]
        stream = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return StreamingResponse(iter([stream]), media_type="text/event-stream")

    async def malformed(request: Request) -> Response:
        return StreamingResponse(iter(["data: {not json\n\n"]), media_type="text/event-stream")

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/completions", malformed, methods=["POST"]),
        ]
    )


@contextmanager
def serve_fake_openai() -> Iterator[FakeOpenAI]:
    """The endpoint, served by uvicorn on a thread for the duration of the `with` block.

    The socket is bound and listening before the thread starts, so the URL is usable at once: a
    connection made before uvicorn begins accepting waits in the listen backlog (no start-up wait).
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    record = FakeOpenAI(url=f"http://127.0.0.1:{sock.getsockname()[1]}/v1")
    config = uvicorn.Config(_openai_app(record), log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="fake-openai", daemon=True)
    thread.start()
    try:
        yield record
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
