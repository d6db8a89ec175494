"""run_with_progress (server/longwork.py): the worker never waits on the event loop for progress,
progress is coalesced but arrives during the run and ends with the last step, and cancellation
stops the worker at its next step."""

from __future__ import annotations

import threading
from typing import Any, cast

import anyio
import anyio.from_thread
import anyio.to_thread
import pytest
from mcp.server.mcpserver import Context

from genai_mcp.server.longwork import run_with_progress
from genai_mcp.tools.errors import InvalidInputError, WorkCancelledError
from genai_mcp.tools.progress import Progress


class Reports:
    """A stand-in for the request Context: records report_progress, optionally holding each send."""

    def __init__(self) -> None:
        self.steps: list[tuple[float, float | None, str | None]] = []
        self.first = anyio.Event()
        self.hold: anyio.Event | None = None

    async def report_progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None:
        self.steps.append((progress, total, message))
        self.first.set()
        if self.hold is not None:
            await self.hold.wait()

    def ctx(self) -> Context[Any]:
        return cast("Context[Any]", self)


def test_many_fast_steps_are_coalesced_and_the_final_one_is_sent() -> None:
    reports = Reports()

    def work(progress: Progress) -> str:
        for i in range(1, 20_001):
            progress(i, 20_000, f"step {i}")
        return "done"

    async def main() -> None:
        assert await run_with_progress(reports.ctx(), work) == "done"

    anyio.run(main)
    assert reports.steps[-1] == (20_000, 20_000, "step 20000")
    assert len(reports.steps) < 200  # far fewer than one per step
    done = [s[0] for s in reports.steps]
    assert done == sorted(set(done))  # strictly increasing


def test_progress_arrives_while_the_work_runs_and_the_worker_never_waits_for_it() -> None:
    reports = Reports()
    seen_by_client = threading.Event()
    steps_returned = threading.Event()

    def work(progress: Progress) -> int:
        progress(1, 3, None)
        # Blocks the worker until the loop has sent step 1: progress arrives during the run.
        assert seen_by_client.wait(30), "no progress reached the client while the work ran"
        # The client is still holding that send; the worker's next steps return regardless.
        progress(2, 3, None)
        progress(3, 3, None)
        steps_returned.set()
        return 7

    async def main() -> None:
        reports.hold = anyio.Event()
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                assert await run_with_progress(reports.ctx(), work) == 7

            tg.start_soon(call)
            await reports.first.wait()
            seen_by_client.set()
            assert await anyio.to_thread.run_sync(steps_returned.wait, 30)
            reports.hold.set()

    anyio.run(main)
    assert reports.steps[0] == (1, 3, None) and reports.steps[-1] == (3, 3, None)


def test_the_last_step_reached_is_sent_when_the_work_fails_or_stops_early() -> None:
    reports = Reports()

    def work(progress: Progress) -> None:
        for i in range(1, 6):
            progress(i, 100, None)
        raise InvalidInputError("bad input at step 5")

    async def main() -> None:
        with pytest.raises(InvalidInputError, match="step 5"):
            await run_with_progress(reports.ctx(), work)

    anyio.run(main)
    assert reports.steps[-1] == (5, 100, None)


def test_cancelling_stops_the_worker_at_its_next_step() -> None:
    reports = Reports()
    stopped: list[BaseException] = []
    finished = threading.Event()
    step_two = threading.Event()
    go_on = threading.Event()

    def work(progress: Progress) -> None:
        try:
            progress(1, 10, None)
            step_two.set()
            assert go_on.wait(30)
            for i in range(2, 11):
                progress(i, 10, None)
        except WorkCancelledError as exc:
            stopped.append(exc)
        finally:
            finished.set()

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_with_progress, reports.ctx(), work)
            await anyio.to_thread.run_sync(step_two.wait, 30)
            tg.cancel_scope.cancel()
        go_on.set()
        assert await anyio.to_thread.run_sync(finished.wait, 30)

    anyio.run(main)
    assert len(stopped) == 1 and "after 2 of 10 steps" in str(stopped[0])


def test_without_a_context_the_work_runs_and_reports_nothing() -> None:
    calls: list[int] = []

    def work(progress: Progress) -> int:
        for i in range(1, 4):
            progress(i, 3, None)
            calls.append(i)
        return len(calls)

    assert anyio.run(run_with_progress, None, work) == 3
