"""Run long torch work off the event loop, with coalesced progress and prompt cancellation.

tools/ functions that take a while accept a `progress(done, total, message)` (tools/progress.py);
it is called once per step (a denoising step, a generated token, a training step) from the worker
thread. Here each call costs the worker a threading.Event check and one assignment: it raises
WorkCancelledError once the caller has cancelled, so the thread stops within one step instead of
running on, and otherwise leaves (done, total, message) in a slot. The worker never waits on the
event loop.

The coalescing rule: a task on the event loop looks at the slot every PROGRESS_INTERVAL_SECONDS
(50 ms) and sends the latest step if it changed, so a caller gets at most ~20 notifications a
second, each the newest step; when the work ends (result, error or a step below `total` such as
an early end-of-text), the last step reached is sent before the result. Steps slower than the
interval are each reported; faster ones are skipped in between. What a client can rely on:
`progress` strictly increases, `total` as the tool gives it, and the last notification is the last
step done (`total` itself when the work ran to the end). Measured by bench/text.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from mcp.server.mcpserver import Context

from genai_mcp.tools.errors import WorkCancelledError
from genai_mcp.tools.progress import Progress
from genai_mcp.tools.work import rebudget, run_work

__all__ = ["PROGRESS_INTERVAL_SECONDS", "run_with_progress"]

T = TypeVar("T")
PROGRESS_INTERVAL_SECONDS = 0.05

Step = tuple[int, int | None, str | None]


async def run_with_progress(
    ctx: Context[Any] | None,
    work: Callable[[Progress], T],
    *,
    interval: float | None = None,
) -> T:
    """Run `work(progress)` in a worker thread; the event loop keeps serving other requests.

    Progress notifications (coalesced, see the module docstring; `interval` defaults to
    PROGRESS_INTERVAL_SECONDS) go out only if the caller asked for them (the SDK drops them
    otherwise). If this task is cancelled, the worker raises WorkCancelledError at its next step
    and the cancellation propagates here.
    """
    cancelled = threading.Event()
    latest: list[Step] = []  # the newest step, written by the worker, read by the loop

    def on_step(done: int, total: int | None, message: str | None = None) -> None:
        if cancelled.is_set():
            raise WorkCancelledError(f"cancelled by the caller after {done} of {total} steps")
        latest[:] = [(done, total, message)]  # one slice assignment: atomic under the GIL
        rebudget()  # its torch threads, revisited now and then (tools/work.py)

    if ctx is None:
        return await _run(work, on_step, cancelled)

    period = PROGRESS_INTERVAL_SECONDS if interval is None else interval
    finished = anyio.Event()
    sent: list[Step | None] = [None]

    async def send_latest() -> None:
        step = latest[0] if latest else None
        if step is not None and step != sent[0]:
            sent[0] = step
            done, total, message = step
            await ctx.report_progress(done, total=total, message=message)

    async def forward() -> None:
        while not finished.is_set():
            with anyio.move_on_after(period):
                await finished.wait()
            await send_latest()
        await send_latest()  # the last step, before the result goes out

    error: Exception | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(forward)
        try:
            result = await _run(work, on_step, cancelled)
        except Exception as exc:  # re-raised below, outside the task group (no ExceptionGroup)
            error = exc
        finally:
            finished.set()
    if error is not None:
        raise error
    return result


async def _run(work: Callable[[Progress], T], on_step: Progress, cancelled: threading.Event) -> T:
    try:
        return await anyio.to_thread.run_sync(run_work, work, on_step, abandon_on_cancel=True)
    except anyio.get_cancelled_exc_class():
        cancelled.set()
        raise
