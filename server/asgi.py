"""One ASGI mechanism the HTTP face needs twice: replace the SDK app's responses of one status.

The SDK answers some refusals (401 without a useful text, 413 naming no limit) itself, with no hook
to change them; a middleware lets every other response through and swaps those for its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from starlette.types import Message, Send

__all__ = ["json_response", "replacing"]


def replacing(send: Send, status: int, replacement: Send) -> Send:
    """A `send` that passes responses through, except one of `status`: its start goes to
    `replacement` instead (which sends a whole response on `send`) and its body is dropped."""
    replaced = False

    async def send_or_replace(message: Message) -> None:
        nonlocal replaced
        if message["type"] == "http.response.start" and message["status"] == status:
            replaced = True
            await replacement(message)
        elif not replaced:
            await send(message)

    return send_or_replace


async def json_response(
    send: Send, status: int, body: Any, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """Send `body` as a complete JSON response of `status`."""
    data = json.dumps(body).encode()
    start = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": data})
