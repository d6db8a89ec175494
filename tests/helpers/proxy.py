"""A TCP proxy on 127.0.0.1 that cuts one connection mid-response, as a flaky network or a proxy's
idle timeout would: for the tests of what a client does when its SSE stream breaks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

import anyio
from anyio.abc import SocketAttribute, SocketStream

__all__ = ["CuttingProxy", "cutting_proxy"]


@dataclass
class CuttingProxy:
    url: str  # http://127.0.0.1:PORT, forwarding to the target
    cut: anyio.Event = field(default_factory=anyio.Event)  # set once a connection has been cut


@asynccontextmanager
async def cutting_proxy(target_port: int, marker: bytes, count: int) -> AsyncIterator[CuttingProxy]:
    """Forward 127.0.0.1:PORT to 127.0.0.1:`target_port`; the first connection whose server-to-client
    bytes carry `marker` `count` times is closed right after they were forwarded (once only)."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    proxy = CuttingProxy(f"http://127.0.0.1:{listener.extra(SocketAttribute.local_port)}")

    async def handle(client: SocketStream) -> None:
        # A connection either side resets or closes just ends, as it would through a real proxy.
        with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            async with client, await anyio.connect_tcp("127.0.0.1", target_port) as upstream:
                await relay(client, upstream)

    async def relay(client: SocketStream, upstream: SocketStream) -> None:
        async with anyio.create_task_group() as tg:

            async def down() -> None:
                seen, tail = 0, b""
                with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                    async for chunk in upstream:
                        await client.send(chunk)
                        if not proxy.cut.is_set():
                            seen += (tail + chunk).count(marker)  # a marker split across chunks counts once
                            tail = chunk[-(len(marker) - 1) :]
                            if seen >= count:
                                proxy.cut.set()
                                break
                tg.cancel_scope.cancel()

            async def up() -> None:
                with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                    async for chunk in client:
                        await upstream.send(chunk)
                tg.cancel_scope.cancel()

            tg.start_soon(down)
            tg.start_soon(up)

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        yield proxy
        tg.cancel_scope.cancel()
