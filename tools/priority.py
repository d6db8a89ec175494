"""Model work runs at a lower CPU priority than the threads that serve the protocol.

On a contended machine the event loop (initialize, tools/list, cancellation, progress) and torch's
threads compete for the same cores; the kernel shares them out evenly, so a busy sampling loop can
hold off the loop for tens of milliseconds at a time. With a work niceness above 0
(`set_work_niceness`, GENAI_MCP_WORK_NICENESS), work handed to `run_work` runs in threads of one
pool whose Linux nice value is raised once, at their start; torch's intra-op (OpenMP) threads are
created by those threads and inherit it. The protocol's own threads (the event loop, and anyio's
worker threads, which also read stdin for the stdio transport) keep the process's priority: a
thread's nice value can only be raised without privilege, never lowered back, so work never runs in
a thread that anything else might use later.

Niceness changes only who waits when the cores are busy: with nothing else runnable, niced work
runs exactly as fast (bench/serving.py measures both). Nice values are per thread on Linux only;
elsewhere `run_work` runs the work in the pool at the process's priority.

    set_work_niceness(n)     process-wide: 0 (off) runs work in the calling thread, as before
    run_work(fn, *args)      fn(*args) in a work thread, with the caller's contextvars; blocks
    lower_this_thread()      raise the calling thread's niceness to the work niceness
"""

from __future__ import annotations

import contextvars
import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["lower_this_thread", "run_work", "set_work_niceness", "work_niceness"]

T = TypeVar("T")
logger = logging.getLogger(__name__)

# As many as anyio lets run at once (its default limiter): every call that is in a worker thread
# must be able to reach a work thread, or concurrent calls would queue here and never batch.
_POOL_THREADS = 40

_niceness = 0
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def set_work_niceness(niceness: int) -> None:
    """0 (off) to 19: how much lower than the process the work threads run. Process-wide."""
    global _niceness
    if not 0 <= niceness <= 19:
        raise ValueError(f"work niceness must be 0 (off) to 19, got {niceness}")
    _niceness = niceness


def work_niceness() -> int:
    return _niceness


def lower_this_thread() -> None:
    """Raise the calling thread's nice value by the work niceness (once; a no-op when off)."""
    if not _niceness or not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    try:
        # PRIO_PROCESS with a thread id sets that one thread on Linux (nice is per-thread there).
        target = min(19, os.getpriority(os.PRIO_PROCESS, os.getpid()) + _niceness)  # the main thread's
        if os.getpriority(os.PRIO_PROCESS, tid) < target:
            os.setpriority(os.PRIO_PROCESS, tid, target)
    except OSError as exc:  # e.g. a seccomp profile without setpriority: work still runs
        logger.warning("cannot lower the priority of a work thread: %s", exc)


def run_work(fn: Callable[..., T], *args: Any) -> T:
    """fn(*args) in a work thread when the work niceness is on, else right here; its result or
    exception. The caller's contextvars go with it (per-call log routing rides on them)."""
    if not _niceness:
        return fn(*args)
    context = contextvars.copy_context()
    return _work_pool().submit(context.run, fn, *args).result()


def _work_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                _POOL_THREADS, thread_name_prefix="genai-work", initializer=lower_this_thread
            )
        return _pool
