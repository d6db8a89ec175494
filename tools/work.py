"""How model work runs: below the protocol's CPU priority, with as many torch threads as are free.

Model work (tool bodies, sampling loops, training) and the threads that serve the protocol (the event
loop: initialize, tools/list, cancellation, progress) share the machine's cores. Two things keep the
protocol answering while models run, both measured by bench/serving.py:

Priority. With a work niceness above 0, work handed to `run_work` runs in threads of one pool whose
Linux nice value is raised once, at their start; torch's intra-op (OpenMP) threads are created by
those threads and inherit it. The protocol's own threads (the event loop, and anyio's worker
threads, which also read stdin for the stdio transport) keep the process's priority: a thread's
nice value can only be raised without privilege, never lowered back, so work never runs in a thread
that anything else might use later. With nothing else runnable, niced work runs exactly as fast.

Thread budget. torch's intra-op threads (one per core by default) meet at the end of every
operation; when another process holds one of the cores, every operation waits for the thread that
lost its core (measured here: 20 house-DDPM steps took 0.24 s on one thread and 10.3 s on two while
other processes ran), and the threads spinning at those barriers take the core the event loop
needs. So unless an operator fixes the count, each work item starts with `thread_budget()` threads:
torch's default while the cores are otherwise free, fewer as other processes' runnable tasks (the
kernel's count in /proc/loadavg less this process's own running threads, read at most every 0.25 s)
and this process's other work items take them, one at least. The protocol's own threads do not
count against the budget: they are short bursts, and halving a sample's threads every time the
event loop answers a request cost a quarter of its speed. The count is set
in the work thread itself: under OpenMP it is a per-thread setting, read when an operation starts.
Long work revisits its count as it goes (`rebudget()` from its steps, at most every 0.25 s): a
sample that took both cores of an idle machine gives one back when a second call arrives, and takes
it again once that call is done.

    configure(niceness, torch_threads)   process-wide; torch_threads None: the budget decides
    run_work(fn, *args)                  fn(*args) as work, with the caller's contextvars; blocks
    rebudget()                           from a step of running work: its count, revisited
    lower_this_thread()                  raise the calling thread's niceness to the work niceness
    thread_budget()                      threads the next work item gets
"""

from __future__ import annotations

import contextvars
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = [
    "budget",
    "configure",
    "lower_this_thread",
    "rebudget",
    "run_work",
    "thread_budget",
    "work_niceness",
]

T = TypeVar("T")
logger = logging.getLogger(__name__)

# As many as anyio lets run at once (its default limiter): every call that is in a worker thread
# must be able to reach a work thread, or concurrent calls would queue here and never batch.
_POOL_THREADS = 40
REBUDGET_SECONDS = 0.25
_LINUX = sys.platform.startswith("linux")

_niceness = 0
_fixed_threads: int | None = None  # an operator's count: no budget
_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()
_running_threads = 0  # torch threads of the work items running now
_full: int | None = None  # torch's own count (OMP_NUM_THREADS, or one per core), before any budget
_here = threading.local()  # .threads: the count of the work running in this thread; .checked: when


def configure(niceness: int = 0, torch_threads: int | None = None) -> None:
    """The work niceness, 0 (off) to 19, and a fixed torch thread count (None: the budget's)."""
    global _niceness, _fixed_threads
    if not 0 <= niceness <= 19:
        raise ValueError(f"work niceness must be 0 (off) to 19, got {niceness}")
    if torch_threads is not None and torch_threads < 1:
        raise ValueError(f"torch threads must be at least 1, got {torch_threads}")
    _niceness, _fixed_threads = niceness, torch_threads


def work_niceness() -> int:
    return _niceness


def lower_this_thread() -> None:
    """Raise the calling thread's nice value by the work niceness (once; a no-op when off)."""
    if not _niceness or not _LINUX:
        return
    tid = threading.get_native_id()
    try:
        # PRIO_PROCESS with a thread id sets that one thread on Linux (nice is per-thread there).
        target = min(19, os.getpriority(os.PRIO_PROCESS, os.getpid()) + _niceness)  # the main thread's
        if os.getpriority(os.PRIO_PROCESS, tid) < target:
            os.setpriority(os.PRIO_PROCESS, tid, target)
    except OSError as exc:  # e.g. a seccomp profile without setpriority: work still runs
        logger.warning("cannot lower the priority of a work thread: %s", exc)


def budget(cores: int, full: int, others: int, ours: int) -> int:
    """Threads for a work item: `full` if the cores left by `others` (other processes' runnable
    tasks) and `ours` (this process's other work items' threads) hold it, else what they hold, at
    least one."""
    return max(1, min(full, cores - others - ours))


def thread_budget(mine: int = 0) -> int:
    """The fixed count if there is one; else up to torch's own count (known once torch has run work),
    for new work (`mine` 0) or for running work that holds `mine` threads."""
    if _fixed_threads is not None:
        return _fixed_threads
    cores = os.cpu_count() or 1
    full = _full if _full is not None else cores
    if not _LINUX or full == 1:
        return full
    others = _other_runnable()
    if others is None:
        return full
    return budget(cores, full, others, _running_threads - mine)


_seen = (float("-inf"), 0)  # (when, other processes' runnable tasks then)


def _other_runnable() -> int | None:
    """Other processes' runnable tasks: the kernel's count less this process's running threads,
    re-read at most every REBUDGET_SECONDS (a read takes ~1 ms with 40 threads). Called under _lock."""
    global _seen
    now = time.monotonic()
    if now - _seen[0] < REBUDGET_SECONDS:
        return _seen[1]
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            runnable = int(f.read().split()[3].split("/")[0])
        own = 0
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat", "rb") as f:
                    own += f.read().rsplit(b")", 1)[1].split()[0] == b"R"
            except OSError:  # the thread ended meanwhile
                continue
    except (OSError, ValueError, IndexError):
        return None
    _seen = (now, max(0, runnable - own))
    return _seen[1]


def rebudget() -> None:
    """From a step of running work (in its thread): revisit its torch threads, at most every
    REBUDGET_SECONDS; a no-op outside work, with a fixed count, or before torch has run work."""
    global _running_threads
    mine: int = getattr(_here, "threads", 0)
    if not mine or _fixed_threads is not None:
        return
    now = time.monotonic()
    if now - _here.checked < REBUDGET_SECONDS:
        return
    _here.checked = now
    with _lock:
        threads = thread_budget(mine)
        if threads == mine:
            return
        _running_threads += threads - mine
    _here.threads = threads
    sys.modules["torch"].set_num_threads(threads)


def run_work(fn: Callable[..., T], *args: Any) -> T:
    """fn(*args) as model work: in a niced work thread when the niceness is on (else right here),
    with the thread budget's torch threads; its result or exception. The caller's contextvars go
    with it (per-call log routing rides on them)."""
    if not _niceness:
        return _as_work(fn, *args)
    context = contextvars.copy_context()
    return _work_pool().submit(context.run, _as_work, fn, *args).result()


def _as_work(fn: Callable[..., T], *args: Any) -> T:
    global _running_threads, _full
    torch = sys.modules.get("torch")  # work that imports torch itself gets torch's own count once
    outer = getattr(_here, "threads", 0), getattr(_here, "checked", 0.0)
    if torch is None or outer[0]:  # work inside work keeps the outer count
        return fn(*args)
    with _lock:
        if _full is None:
            _full = int(torch.get_num_threads())
        threads = thread_budget()
        _running_threads += threads
    _here.threads, _here.checked = threads, time.monotonic()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    try:
        return fn(*args)
    finally:
        with _lock:
            _running_threads -= _here.threads  # rebudget may have changed it
        _here.threads, _here.checked = outer


def _work_pool() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                _POOL_THREADS, thread_name_prefix="genai-work", initializer=lower_this_thread
            )
        return _pool
