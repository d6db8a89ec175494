"""A bounded in-memory event store, so a client that loses an SSE stream resumes it with Last-Event-ID.

Given an event store, the SDK's streamable HTTP transport (2025-era sessions) stores every message it
sends on a request's SSE stream or on the standalone GET stream, sends each with the id this store
gives it, starts each POST's stream with a priming event (an id, empty data and the `retry` a client
waits before reconnecting; clients of protocol 2025-11-25 and later), and answers `GET /mcp` with
`Last-Event-ID: <id>` by asking this store to replay what followed that event. Kept:

    per stream   at most max_stream_events events, the oldest dropped first
    in all       at most max_events events and max_bytes bytes of message JSON, the oldest dropped first
    by age       events older than max_age_seconds are dropped (checked whenever one is stored or replayed)

A replay from an id the store no longer holds replays the stream's events that are still held (the
request's response is its newest event, so it is the last to go); from an id of a stream that is
gone entirely, nothing. Resuming a request's stream replays what followed the id and then keeps
forwarding that request's events as they are stored until its response has gone out; the replay then
returns None, which makes the SDK end the resumed response, as the POST's own stream would have
ended. (Returning the stream's id instead would make the SDK attach a live tail only after it has
sent another priming event, and an event stored in between would reach no connection; so for a
request stream this store does the tailing itself.) The standalone stream has no last event: its
replay catches up and hands the stream back to the SDK's live tail.

Sessions. The SDK files events under the name of their stream, the request id ("2") or
"_GET_stream", which every session uses, and gives one store to all sessions; the EventStore
interface carries no session. SessionScopes, an ASGI middleware in front of the SDK's app, tells
sessions apart: it enters a scope for each request (the session's own scope when the request names a
session this store has seen, a new one otherwise) and learns the session id a new session's opening
response carries. The scope is held in a context variable, so it also reaches the session's message
router, a task the SDK starts while serving the opening request (tasks inherit their creator's
context). Each stream is owned by the scope that stored its first event, and a replay is served only
within that scope: a Last-Event-ID of another session's stream replays nothing (and is logged). An
event stored outside any scope belongs to no session and is never replayed to one.

Every method runs on the server's event loop and does its bookkeeping with no await in between, so
concurrent tasks see consistent state; a replay copies what it will send before it awaits the send.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from itertools import count

import anyio
from mcp.server.streamable_http import (
    GET_STREAM_KEY,
    MCP_SESSION_ID_HEADER,
    EventCallback,
    EventId,
    EventMessage,
    EventStore,
    StreamId,
)
from mcp_types import JSONRPCError, JSONRPCMessage, JSONRPCResponse, jsonrpc_message_adapter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BoundedEventStore", "SessionScope", "SessionScopes"]

logger = logging.getLogger(__name__)

_SESSION_HEADER = MCP_SESSION_ID_HEADER.encode()


class SessionScope:
    """The events of one session (or of one request that opened none)."""

    __slots__ = ("__weakref__", "key")

    def __init__(self, key: int):
        self.key = key


@dataclass(eq=False)
class _Stream:
    number: int
    scope: int  # SessionScope.key of its owner
    name: StreamId  # the SDK's name: a request id or GET_STREAM_KEY
    events: deque[_Event] = field(default_factory=deque)
    done: bool = False  # its response is stored: a request's stream ends with it
    gone: bool = False  # dropped from the store
    arrived: anyio.Event = field(default_factory=anyio.Event)  # set (and replaced) on each change


@dataclass(eq=False)
class _Event:
    seq: int
    stream: _Stream
    data: bytes | None  # the message's JSON; None for a priming event
    stored_at: float
    held: bool = True

    @property
    def id(self) -> EventId:
        return f"{self.stream.number}-{self.seq}"

    @property
    def size(self) -> int:
        return 0 if self.data is None else len(self.data)


class BoundedEventStore(EventStore):
    """The SDK's EventStore, in memory and bounded by count, bytes and age (see the module docstring).

    `clock` gives seconds (monotonic); tests pass their own.
    """

    def __init__(
        self,
        *,
        max_events: int,
        max_stream_events: int,
        max_bytes: int,
        max_age_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        if min(max_events, max_stream_events, max_bytes) < 1 or not max_age_seconds > 0:
            raise ValueError("event store bounds must be positive")
        self.max_events = max_events
        self.max_stream_events = max_stream_events
        self.max_bytes = max_bytes
        self.max_age_seconds = max_age_seconds
        self._clock = clock
        self._order: deque[_Event] = deque()  # every event in storage order, dropped ones included
        self._streams: dict[tuple[int, StreamId], _Stream] = {}  # (scope, name) -> the current stream
        self._numbered: dict[int, _Stream] = {}  # stream number -> stream
        self._events = 0  # held events
        self._bytes = 0  # bytes of held events
        self._seq = count(1)
        self._stream_numbers = count(1)
        # Scopes: key 0 is for events stored outside any (never replayed to a session).
        self._scope_keys = count(1)
        self._unscoped = SessionScope(0)
        self._scope: ContextVar[SessionScope | None] = ContextVar(
            f"event_store_scope_{id(self)}", default=None
        )
        # A session's scope lives as long as a task of the session holds it (its message router does).
        self._sessions: weakref.WeakValueDictionary[str, SessionScope] = weakref.WeakValueDictionary()

    # Sizes, for the operator and the tests.
    @property
    def event_count(self) -> int:
        return self._events

    @property
    def byte_count(self) -> int:
        return self._bytes

    @property
    def stream_count(self) -> int:
        return len(self._numbered)

    # Scopes
    @contextmanager
    def session(self, session_id: str | None) -> Iterator[SessionScope]:
        """Enter the scope of `session_id` (a new one for None or a session this store has not seen)."""
        scope = self._sessions.get(session_id) if session_id is not None else None
        if scope is None:
            scope = SessionScope(next(self._scope_keys))
        token = self._scope.set(scope)
        try:
            yield scope
        finally:
            self._scope.reset(token)

    def bind(self, session_id: str, scope: SessionScope) -> None:
        """`session_id` names `scope` from now on (the SDK has just given a new session that id)."""
        self._sessions[session_id] = scope

    # The SDK's interface
    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        now = self._clock()
        self._expire(now)
        scope = (self._scope.get() or self._unscoped).key
        stream = self._streams.get((scope, stream_id))
        if stream is None or (message is None and stream.done):
            # A priming event after a response opens a new stream: the request id has been reused.
            if stream is not None:
                self._streams.pop((scope, stream_id))
            stream = _Stream(next(self._stream_numbers), scope, stream_id)
            self._streams[(scope, stream_id)] = stream
            self._numbered[stream.number] = stream
        # The same JSON the SDK sends (the union's own TypeAdapter takes ~5x longer to write it).
        data = (
            None if message is None else message.model_dump_json(by_alias=True, exclude_unset=True).encode()
        )
        event = _Event(next(self._seq), stream, data, now)
        stream.events.append(event)
        self._order.append(event)
        self._events += 1
        self._bytes += event.size
        if isinstance(message, JSONRPCResponse | JSONRPCError):
            stream.done = True
        self._changed(stream)
        while len(stream.events) > self.max_stream_events:
            self._drop(stream.events[0])
        while self._events > self.max_events or self._bytes > self.max_bytes:
            self._drop_oldest()
        return event.id

    async def replay_events_after(
        self, last_event_id: EventId, send_callback: EventCallback
    ) -> StreamId | None:
        stream, after = self._find(last_event_id)
        if stream is None:
            return None
        scope = (self._scope.get() or self._unscoped).key
        if stream.scope != scope:
            logger.warning(
                "refused to replay event %s: its stream belongs to another session", last_event_id[:40]
            )
            return None
        while True:
            self._expire(self._clock())
            pending = [e for e in stream.events if e.seq > after]
            if not pending:
                if stream.name == GET_STREAM_KEY:
                    return stream.name  # caught up: the SDK tails the standalone stream from here
                if stream.done or stream.gone:
                    return None  # the response has gone out (or cannot): the resumed stream ends
                await stream.arrived.wait()
                continue
            for event in pending:
                after = event.seq
                if event.data is not None:  # priming events carry no message
                    message = jsonrpc_message_adapter.validate_json(event.data, by_name=False)
                    await send_callback(EventMessage(message, event.id))

    # Bookkeeping
    def _find(self, event_id: EventId) -> tuple[_Stream | None, int]:
        number, _, seq = event_id.partition("-")
        if not (number.isdigit() and seq.isdigit()):
            return None, 0
        return self._numbered.get(int(number)), int(seq)

    def _changed(self, stream: _Stream) -> None:
        stream.arrived.set()
        stream.arrived = anyio.Event()

    def _expire(self, now: float) -> None:
        oldest = now - self.max_age_seconds
        while self._order and (not self._order[0].held or self._order[0].stored_at < oldest):
            event = self._order.popleft()
            if event.held:
                self._drop(event)

    def _drop_oldest(self) -> None:
        while not self._order[0].held:
            self._order.popleft()
        self._drop(self._order.popleft())

    def _drop(self, event: _Event) -> None:
        """Forget `event`, the oldest its stream holds (a stream drops its events oldest first)."""
        stream = event.stream
        assert stream.events[0] is event
        stream.events.popleft()
        event.held = False
        self._events -= 1
        self._bytes -= event.size
        if not stream.events:
            stream.gone = True
            self._numbered.pop(stream.number, None)
            if self._streams.get((stream.scope, stream.name)) is stream:
                del self._streams[(stream.scope, stream.name)]
            self._changed(stream)
        # Events a stream's own bound dropped stay in _order until they reach its head; keep them
        # from piling up behind a long-lived old event.
        if len(self._order) > 2 * self._events + 64:
            self._order = deque(e for e in self._order if e.held)


class SessionScopes:
    """ASGI middleware in front of the SDK's app: each request runs in its session's scope of `store`.

    A request without a session id gets a new scope, bound to the session id its response carries
    (an opening `initialize`); one with a session id gets that session's scope.
    """

    def __init__(self, app: ASGIApp, store: BoundedEventStore):
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session_id = next((v.decode("latin-1") for k, v in scope["headers"] if k == _SESSION_HEADER), None)
        with self.store.session(session_id) as session:
            if session_id is not None:
                await self.app(scope, receive, send)
                return

            async def learn_session(message: Message) -> None:
                if message["type"] == "http.response.start":
                    for name, value in message.get("headers", []):
                        if name.lower() == _SESSION_HEADER:
                            self.store.bind(value.decode("latin-1"), session)
                await send(message)

            await self.app(scope, receive, learn_session)
