"""Run long torch work off the event loop, with per-step progress and prompt cancellation.

tools/ functions that take a while accept a `progress(done, total, message)` (tools/progress.py);
it is called once per step (a denoising step, a generated token, a training step) from the worker
thread. Here it forwards progress to the MCP caller and raises WorkCancelledError in the worker at
the next step once the caller has cancelled, so the thread stops within one step instead of running on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context

from genai_mcp.tools.errors import WorkCancelledError
from genai_mcp.tools.progress import Progress

__all__ = ["run_with_progress"]

T = TypeVar("T")


async def run_with_progress(ctx: Context[Any] | None, work: Callable[[Progress], T]) -> T:
    """Run `work(progress)` in a worker thread; the event loop keeps serving other requests.

    Progress notifications go out only if the caller asked for them (the SDK drops them otherwise).
    If this task is cancelled, the worker raises WorkCancelledError at its next step and the
    cancellation propagates here.
    """
    cancelled = threading.Event()

    def on_step(done: int, total: int | None, message: str | None = None) -> None:
        if cancelled.is_set():
            raise WorkCancelledError(f"cancelled by the caller after {done} of {total} steps")
        if ctx is not None:
            try:
                anyio.from_thread.run(_report, ctx, done, total, message)
            except anyio.get_cancelled_exc_class():  # the caller went away mid-report
                cancelled.set()
                raise WorkCancelledError(f"cancelled by the caller after {done} of {total} steps") from None
            except RuntimeError:
                # The event loop is gone (server shutting down): stop rather than hang.
                cancelled.set()
                raise WorkCancelledError("the server is shutting down") from None

    try:
        return await anyio.to_thread.run_sync(work, on_step, abandon_on_cancel=True)
    except anyio.get_cancelled_exc_class():
        cancelled.set()
        raise


async def _report(ctx: Context[Any], done: int, total: int | None, message: str | None) -> None:
    await ctx.report_progress(done, total=total, message=message)
