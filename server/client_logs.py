"""Server -> client logging: records of the `genai_mcp` logger tree reach the MCP clients that asked.

tools/ logs with plain `logging.getLogger(__name__)` where an event happens (a model loaded, a job
finished, a prompt truncated); figures ride along as `extra={"figures": {...}}`, a JSON-ready dict.
This module is the one bridge from those records to MCP `notifications/message`:

    install(server)          declare the `logging` capability, answer `logging/setLevel`, and route
                             each tools/call and resources/read (a middleware around `forwarding`)
    attached(lifespan)       the server's lifespan with the bridge's handler on the genai_mcp logger
    forwarding(request)      records emitted while the request is handled, in any thread its work
                             runs in (resolvers' included), go to the client that sent it

Who gets what. Nothing goes to a client that did not ask, and nothing below the level it asked for:
- 2025-11-25 connections ask with `logging/setLevel`; the level is the connection's (kept in its
  `Connection.state`) and holds for its later calls.
- 2026-07-28 requests ask one by one, with the level in `_meta` ("io.modelcontextprotocol/logLevel",
  `Client(log_level=...)`); records go out on that request's stream while it runs, as the spec says.
- A record is routed by the call that produced it (a contextvar set by `forwarding`, copied into
  worker threads by anyio and into a training job's run by the job runner). The middleware wraps
  the whole request, so a tool's resolvers (sampling / elicitation rounds, which the SDK runs
  before the tool itself) and the argument checks are inside it too. Work that outlives its
  call (a LoRA job finishing in the background) reaches the same connection on its standalone
  stream if that is a 2025-11-25 connection that set a level; a 2026-07-28 client has no stream to
  receive it on, and reads the outcome from job_status. Records of no call (start-up, shutdown) go
  to stderr only. Every record also goes wherever the process's logging sends it (stderr under
  `--log-level`, server/process.py).
- Only the message and the figures are sent, never a traceback. `data` is the message string, or
  `{"message": ..., **figures}` when there are figures; `logger` is the record's logger name.

Threads. Records come from worker threads. `emit` never blocks and never raises: a record is handed
to the event loop with `call_soon_threadsafe` (the SDK runs on asyncio) into a bounded memory stream
that a task of the call drains; when the stream is full, the client is gone or the loop has closed,
the record is dropped (it still reached stderr). A call's result waits at most FLUSH_SECONDS for
its last records to be written.

Which records exist at all is the process's logging's choice: the serve command lets every
genai_mcp record through (server/process.py); a server embedded in another process forwards the
levels that process's `genai_mcp` logger enables.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from typing import Any, Final, TypeVar, get_args

import anyio
from mcp.server import MCPServer
from mcp.server.connection import Connection
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.session import ServerSession
from mcp.types import (
    LOG_LEVEL_META_KEY,
    EmptyResult,
    LoggingLevel,
    LoggingMessageNotification,
    LoggingMessageNotificationParams,
    SetLevelRequestParams,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic_core import to_jsonable_python

__all__ = ["FLUSH_SECONDS", "LOGGER", "attached", "forwarding", "install", "mcp_level"]

T = TypeVar("T")

LOGGER = "genai_mcp"  # the tree whose records are forwarded
FLUSH_SECONDS = 5.0  # the most a call's result waits for its last log records to be written
_BUFFER = 256  # records of one call waiting to be written; more are dropped
_MAX_PENDING = 256  # standalone sends (records that outlived their call) in flight; more are dropped
_LEVELS: Final[tuple[LoggingLevel, ...]] = get_args(LoggingLevel)  # syslog order, debug first
_STATE_KEY = "genai_mcp.log_level"  # where a 2025-11-25 connection's level lives in Connection.state

logger = logging.getLogger(__name__)  # never forwarded: the bridge does not report on itself


def mcp_level(levelno: int) -> LoggingLevel:
    """The MCP (syslog) level of a Python level: 25 (between INFO and WARNING) is "notice"."""
    if levelno >= logging.CRITICAL:
        return "critical"
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warning"
    if levelno > logging.INFO:
        return "notice"
    return "info" if levelno >= logging.INFO else "debug"


def _at_least(level: LoggingLevel, threshold: LoggingLevel) -> bool:
    return _LEVELS.index(level) >= _LEVELS.index(threshold)


# ---- the capability and the 2025-11-25 level


_ROUTED = frozenset({"tools/call", "resources/read"})  # the requests whose work logs


def install(server: MCPServer[Any]) -> None:
    """Declare the `logging` capability and route the records of each routed request to its client.

    The SDK advertises `logging` once `logging/setLevel` has a handler. MCPServer has no public way
    to add one, so it goes on the low-level server, as the SDK's extension docs advise for
    `logging/setLevel`; 2026-07-28 requests never reach it (the method is not part of that revision)
    and carry their level in `_meta` instead. The routing is a server middleware (the SDK's hook
    around every inbound request), added after the SDK's own.
    """
    server._lowlevel_server.add_request_handler("logging/setLevel", SetLevelRequestParams, _set_level)
    server.middleware.append(_route)


async def _route(ctx: ServerRequestContext[Any], call_next: CallNext) -> HandlerResult:
    if ctx.request_id is None or ctx.method not in _ROUTED:
        return await call_next(ctx)
    async with forwarding(ctx):
        return await call_next(ctx)


async def _set_level(ctx: ServerRequestContext[Any], params: SetLevelRequestParams) -> EmptyResult:
    _connection(ctx.session).state[_STATE_KEY] = params.level
    return EmptyResult()


def _connection(session: ServerSession) -> Connection:
    # SDK 2.3 hands handlers a per-request ServerSession; the per-client Connection behind it (whose
    # `state` persists across requests) is reachable only as this attribute.
    connection: Connection = session._connection
    return connection


# ---- the handler on the genai_mcp logger

_Item = tuple[LoggingLevel, str, Any]  # level, logger name, data
_current: ContextVar[_Call | None] = ContextVar("genai_mcp_client_log_call", default=None)


class _Bridge(logging.Handler):
    """Hands each genai_mcp record to the call that produced it, if any; never blocks or raises."""

    def emit(self, record: logging.LogRecord) -> None:
        call = _current.get()
        if call is None or record.name == __name__:
            return
        try:
            call.offer(mcp_level(record.levelno), record.name, _data(record))
        except Exception:
            self.handleError(record)


def _data(record: logging.LogRecord) -> Any:
    message = record.getMessage()
    figures = getattr(record, "figures", None)
    if not isinstance(figures, Mapping) or not figures:
        return message
    return {"message": message, **to_jsonable_python(dict(figures), fallback=str)}


_bridge = _Bridge()
_attached = 0
_attach_lock = threading.Lock()


@asynccontextmanager
async def attached(lifespan: AbstractAsyncContextManager[T]) -> AsyncIterator[T]:
    """`lifespan`, with the bridge on the genai_mcp logger while it runs (counted: in memory each
    Client runs the lifespan, and several servers may share a process)."""
    global _attached
    with _attach_lock:
        _attached += 1
        if _attached == 1:
            logging.getLogger(LOGGER).addHandler(_bridge)
    try:
        async with lifespan as value:
            yield value
    finally:
        with _attach_lock:
            _attached -= 1
            if _attached == 0:
                logging.getLogger(LOGGER).removeHandler(_bridge)


# ---- one call's route to its client


class _Call:
    """Where the records of one tool call go: its request's stream while it runs (at `level`), then
    the standalone stream of its 2025-11-25 `connection` (at that connection's level then)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        session: ServerSession,
        request_id: Any,
        level: LoggingLevel | None,
        connection: Connection | None,
    ) -> None:
        self.loop, self.loop_thread = loop, threading.get_ident()
        self.session, self.request_id = session, request_id
        self.level, self.connection = level, connection
        self.open = level is not None  # records of the call go to its request's stream
        self.dead = False  # a write failed: the client is gone
        self.drain_scope = anyio.CancelScope()
        if self.open:  # only then: `forwarding` drains and closes them
            self.send, self.receive = anyio.create_memory_object_stream[_Item](_BUFFER)

    # In any thread.

    def offer(self, level: LoggingLevel, name: str, data: Any) -> None:
        if self.open:
            if self.level is not None and _at_least(level, self.level):
                self._on_loop(self._put, (level, name, data))
        elif self.connection is not None:
            wanted = self.connection.state.get(_STATE_KEY)
            if wanted is not None and _at_least(level, wanted):
                self._on_loop(self._later, (level, name, data))

    def _on_loop(self, fn: Any, item: _Item) -> None:
        if threading.get_ident() == self.loop_thread:
            fn(item)
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: the server is gone
            self.loop.call_soon_threadsafe(fn, item)

    # On the event loop.

    def _put(self, item: _Item) -> None:
        try:
            self.send.send_nowait(item)
        except anyio.WouldBlock:
            pass  # the client reads slower than the work logs: drop rather than hold the work
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._later(item)  # the call ended while the record was on its way

    def _later(self, item: _Item) -> None:
        connection = self.connection
        if connection is None or len(_pending) >= _MAX_PENDING:
            return
        wanted = connection.state.get(_STATE_KEY)
        if wanted is None or not _at_least(item[0], wanted):
            return
        task = self.loop.create_task(_notify(connection, item))
        _pending.add(task)
        task.add_done_callback(_pending.discard)

    async def drain(self) -> None:
        with self.drain_scope:
            async with self.receive:
                async for level, name, data in self.receive:
                    if self.dead:
                        continue
                    note = LoggingMessageNotification(
                        params=LoggingMessageNotificationParams(level=level, logger=name, data=data)
                    )
                    try:
                        await self.session.send_notification(note, related_request_id=self.request_id)
                    except Exception:
                        self.dead = True

    def close(self) -> None:
        self.open = False
        self.send.close()  # the drain writes what is queued, then ends
        self.drain_scope.deadline = anyio.current_time() + FLUSH_SECONDS


_pending: set[asyncio.Task[None]] = set()  # strong references until each send finishes


async def _notify(connection: Connection, item: _Item) -> None:
    level, name, data = item
    try:  # Connection.notify drops the message itself when the stream has closed
        await connection.notify("notifications/message", {"level": level, "logger": name, "data": data})
    except Exception:
        logger.debug("a log record for a closed connection was dropped")


def _call_of(request: ServerRequestContext[Any]) -> _Call | None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not asyncio: the SDK runs on it, but stay quiet rather than fail a call
        return None
    session = request.session
    if request.protocol_version in MODERN_PROTOCOL_VERSIONS:
        asked = (request.meta or {}).get(LOG_LEVEL_META_KEY)
        level = asked if asked in _LEVELS else None
        return _Call(loop, session, request.request_id, level, None)
    connection = _connection(session)
    level = connection.state.get(_STATE_KEY)
    return _Call(loop, session, request.request_id, level, connection)


@asynccontextmanager
async def forwarding(request: ServerRequestContext[Any]) -> AsyncIterator[None]:
    """Route the log records of the work inside to the client of `request` (see the module doc).

    The records are written while the work runs, and those still queued when it ends before its
    result (at most FLUSH_SECONDS); an exception from the work propagates unchanged.
    """
    call = _call_of(request)
    token = _current.set(call)
    try:
        if call is None or not call.open:
            yield
            return
        failure: Exception | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(call.drain)
            try:
                yield
            except Exception as exc:  # kept until the drain has written the failure's own record
                failure = exc
            finally:
                call.close()
        if failure is not None:
            raise failure
    finally:
        _current.reset(token)
