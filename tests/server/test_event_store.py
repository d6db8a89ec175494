"""BoundedEventStore: its bounds (events per stream and in all, bytes, age, with an injected clock),
replay after an id, the live tail of a request's stream, and sessions kept apart."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from mcp.server.streamable_http import GET_STREAM_KEY, EventMessage
from mcp_types import JSONRPCMessage, JSONRPCNotification, JSONRPCResponse

from genai_mcp.server.event_store import BoundedEventStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def store(clock: Clock | None = None, **bounds: Any) -> BoundedEventStore:
    limits = {"max_events": 100, "max_stream_events": 100, "max_bytes": 10**6, "max_age_seconds": 60.0}
    return BoundedEventStore(**(limits | bounds), clock=clock or Clock())


def progress(n: int, pad: int = 0) -> JSONRPCNotification:
    params = {"progressToken": "t", "progress": n, "message": "x" * pad}
    return JSONRPCNotification(jsonrpc="2.0", method="notifications/progress", params=params)


def response(id: int) -> JSONRPCResponse:
    return JSONRPCResponse(jsonrpc="2.0", id=id, result={"ok": True})


def run(fn: Callable[[], Awaitable[Any]]) -> Any:
    return anyio.run(fn)


WAITING = "(waiting for the call's next event)"


async def replayed(events: BoundedEventStore, after: str) -> tuple[list[Any], str | None]:
    """What a replay after `after` sends (progress numbers, response ids) and what it returns, or
    WAITING if it then waits for more."""
    got: list[EventMessage] = []
    returned: list[str | None] = [WAITING]

    async def send(event: EventMessage) -> None:
        got.append(event)

    async def replay() -> None:
        returned[0] = await events.replay_events_after(after, send)

    async with anyio.create_task_group() as tg:
        tg.start_soon(replay)
        await anyio.wait_all_tasks_blocked()
        tg.cancel_scope.cancel()
    assert all(e.event_id for e in got)
    return numbers([e.message for e in got]), returned[0]


def numbers(messages: list[JSONRPCMessage]) -> list[Any]:
    """Progress numbers of notifications, ids of responses."""
    out = []
    for message in messages:
        if isinstance(message, JSONRPCNotification):
            assert message.params is not None
            out.append(message.params["progress"])
        else:
            out.append(message.id)
    return out


def test_a_request_stream_replays_what_followed_the_id_and_ends_with_its_response() -> None:
    async def main() -> None:
        events = store()
        priming = await events.store_event("2", None)
        ids = [await events.store_event("2", progress(n)) for n in (1, 2, 3)]
        await events.store_event("2", response(2))
        # After the priming event: every message (priming events carry none); after the second: the rest.
        assert await replayed(events, priming) == ([1, 2, 3, 2], None)  # None: the stream is over
        assert await replayed(events, ids[1]) == ([3, 2], None)
        assert await replayed(events, "99-99") == ([], None)
        assert await replayed(events, "garbage") == ([], None)

    run(main)


def test_the_standalone_stream_is_handed_back_to_the_sdk_once_caught_up() -> None:
    async def main() -> None:
        events = store()
        first = await events.store_event(GET_STREAM_KEY, progress(1))
        await events.store_event(GET_STREAM_KEY, progress(2))
        assert await replayed(events, first) == ([2], GET_STREAM_KEY)

    run(main)


def test_a_resumed_request_stream_follows_the_call_until_its_response() -> None:
    async def main() -> None:
        events = store()
        last = await events.store_event("5", progress(1))
        got: list[JSONRPCMessage] = []
        returned: list[str | None] = []

        async def send(event: EventMessage) -> None:
            got.append(event.message)

        async def resume() -> None:
            returned.append(await events.replay_events_after(last, send))

        async with anyio.create_task_group() as tg:
            tg.start_soon(resume)
            await anyio.wait_all_tasks_blocked()
            assert got == [] and returned == []  # waiting for the call's next event
            await events.store_event("5", progress(2))
            await anyio.wait_all_tasks_blocked()
            assert numbers(got) == [2] and returned == []
            await events.store_event("5", response(5))
        assert numbers(got) == [2, 5] and returned == [None]

    run(main)


def test_each_stream_keeps_at_most_its_bound_and_others_are_untouched() -> None:
    async def main() -> None:
        events = store(max_stream_events=3)
        a = [await events.store_event("1", progress(n)) for n in range(1, 6)]
        b = await events.store_event("2", progress(100))
        await events.store_event("2", progress(101))
        assert events.event_count == 5  # 3 of stream 1, 2 of stream 2
        # From an id the store no longer holds: what it still holds of that stream.
        assert await replayed(events, a[0]) == ([3, 4, 5], WAITING)
        assert await replayed(events, b) == ([101], WAITING)

    run(main)


def test_the_oldest_events_go_first_past_the_count_in_all() -> None:
    async def main() -> None:
        events = store(max_events=4)
        old = await events.store_event("1", progress(1))
        await events.store_event("1", progress(2))
        newer = [await events.store_event("2", progress(n)) for n in (10, 11, 12)]
        assert events.event_count == 4
        assert await replayed(events, old) == ([2], WAITING)
        await events.store_event("2", progress(13))
        await events.store_event("2", progress(14))
        # Stream 1 is gone entirely: its ids replay nothing; stream 2 keeps its newest four.
        assert await replayed(events, old) == ([], None)
        assert events.stream_count == 1
        assert await replayed(events, newer[0]) == ([11, 12, 13, 14], WAITING)

    run(main)


def test_bytes_bound_what_is_kept_and_an_event_alone_over_it_is_sent_but_not_kept() -> None:
    async def main() -> None:
        one = len(progress(1, pad=1000).model_dump_json(by_alias=True, exclude_unset=True))
        events = store(max_bytes=2 * one + 10)
        first = await events.store_event("1", progress(1, pad=1000))
        await events.store_event("1", progress(2, pad=1000))
        assert events.event_count == 2 and one * 2 <= events.byte_count <= 2 * one + 10
        await events.store_event("1", progress(3, pad=1000))
        assert events.event_count == 2 and await replayed(events, first) == ([2, 3], WAITING)
        huge = await events.store_event("2", progress(4, pad=10 * one))
        assert huge and events.byte_count <= 2 * one + 10
        assert await replayed(events, huge) == ([], None)

    run(main)


def test_events_older_than_the_age_bound_are_dropped() -> None:
    async def main() -> None:
        clock = Clock()
        events = store(clock, max_age_seconds=30)
        old = await events.store_event("1", progress(1))
        clock.now += 20
        await events.store_event("1", progress(2))
        recent = await events.store_event("2", progress(3))
        clock.now += 15  # the first event is 35 s old, the others 15 s
        assert await replayed(events, old) == ([2], WAITING)
        assert events.event_count == 2
        clock.now += 20  # all past 30 s
        assert await replayed(events, recent) == ([], None)
        assert events.event_count == 0 and events.stream_count == 0

    run(main)


def test_sessions_with_the_same_request_ids_never_see_each_others_events() -> None:
    async def main() -> None:
        events = store()
        with events.session(None) as a:
            a_first = await events.store_event("2", progress(1))
            await events.store_event("2", progress(2))
        events.bind("session-a", a)
        with events.session(None) as b:
            b_first = await events.store_event("2", progress(100))
            await events.store_event("2", progress(101))
        events.bind("session-b", b)
        with events.session("session-a"):
            assert await replayed(events, a_first) == ([2], WAITING)
            assert await replayed(events, b_first) == ([], None)
        with events.session("session-b"):
            assert await replayed(events, b_first) == ([101], WAITING)
        with events.session("unknown"):  # a new scope: nothing is its own
            assert await replayed(events, a_first) == ([], None)
        # Events stored outside any session are never replayed into one.
        loose = await events.store_event("3", progress(7))
        await events.store_event("3", progress(8))
        with events.session("session-a"):
            assert await replayed(events, loose) == ([], None)

    run(main)


def test_a_request_id_used_again_after_its_response_opens_a_new_stream() -> None:
    async def main() -> None:
        events = store()
        await events.store_event("2", None)
        old = await events.store_event("2", progress(1))
        await events.store_event("2", response(2))
        await events.store_event("2", None)  # the same id, a new POST's priming event
        await events.store_event("2", progress(50))
        assert await replayed(events, old) == ([2], None)  # the old stream: its response only
        assert events.stream_count == 2

    run(main)


def test_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        store(max_events=0)
    with pytest.raises(ValueError, match="positive"):
        store(max_age_seconds=0)
