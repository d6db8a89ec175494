"""A chat-completions endpoint on 127.0.0.1 for the host's OpenAI sampling tests (until a real
local engine replaces it): it answers `echo: <last message>` and records each request."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = ["OPENAI_KEY", "FakeOpenAI", "serve_fake_openai"]

OPENAI_KEY = "sk-test-0123456789"  # the only API key the endpoint accepts


@dataclass
class FakeOpenAI:
    """A chat-completions endpoint on 127.0.0.1 that answers `echo: <last message>` and records requests."""

    url: str  # base URL, ending in /v1
    requests: list[dict[str, Any]] = field(default_factory=list)


def _openai_app(record: FakeOpenAI) -> Starlette:
    async def completions(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {OPENAI_KEY}":
            return JSONResponse({"error": {"message": "invalid api key"}}, status_code=401)
        body = await request.json()
        record.requests.append(body)
        answer = "echo: " + body["messages"][-1]["content"]
        return JSONResponse(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
                ],
            }
        )

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


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
