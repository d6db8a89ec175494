"""How model work runs (tools/work.py): niced work threads and the torch thread budget.

The niceness is checked in a child process: it is process-wide, and a raised nice value cannot be
lowered again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from genai_mcp.tools import work

NICED = textwrap.dedent(
    """
    import contextvars, os, threading
    import torch
    from genai_mcp.tools import work

    def nice_of(tid):
        return int(open(f"/proc/self/task/{tid}/stat").read().rsplit(")", 1)[1].split()[16])

    caller = threading.get_native_id()
    var = contextvars.ContextVar("v", default="unset")
    assert work.run_work(threading.get_native_id) == caller  # off: the calling thread itself
    work.configure(niceness=5, torch_threads=2)
    var.set("the caller's")

    def job():
        a = torch.randn(512, 512)
        for _ in range(20):
            a = (a @ a).tanh()  # enough to start torch's intra-op threads from this thread
        return threading.get_native_id(), var.get(), torch.get_num_threads()

    tid, seen, threads = work.run_work(job)
    assert tid != caller and seen == "the caller's" and threads == 2, (tid, seen, threads)
    tids = [int(t) for t in os.listdir("/proc/self/task")]
    niced = [t for t in tids if nice_of(t) == nice_of(caller) + 5]
    assert tid in niced, [(t, nice_of(t)) for t in tids]
    assert len(niced) >= 2, "torch's threads started by the work thread inherit its nice value"

    def fails():
        raise ValueError("from the work thread")

    try:
        work.run_work(fails)
    except ValueError as exc:
        assert "from the work thread" in str(exc)
    else:
        raise AssertionError("the work's exception must reach the caller")
    print("ok")
    """
)

CROWDED = textwrap.dedent(
    """
    import os, subprocess, sys, time
    import torch
    from genai_mcp.tools import work

    cores = os.cpu_count()
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    try:
        time.sleep(0.5)  # the hogs running
        threads = work.run_work(torch.get_num_threads)
    finally:
        for hog in hogs:
            hog.kill()
    assert threads == 1, threads
    print("ok")
    """
)


def child(code: str, **env: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_work_runs_niced_with_torchs_threads_and_the_callers_context() -> None:
    child(NICED, OMP_NUM_THREADS="2")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/loadavg is Linux's")
def test_work_on_a_crowded_machine_gets_one_torch_thread() -> None:
    child(CROWDED, OMP_NUM_THREADS=str(max(2, os.cpu_count() or 2)))


@pytest.mark.parametrize(
    "cores, full, others, ours, expected",
    [
        (2, 2, 0, 0, 2),  # nothing else runs: torch's own count
        (2, 2, 1, 0, 1),  # another process holds a core
        (2, 2, 0, 2, 1),  # this process's other work holds both
        (2, 1, 0, 0, 1),  # OMP_NUM_THREADS=1 stays 1
        (16, 16, 4, 0, 12),  # four others on sixteen cores
        (16, 8, 4, 0, 8),  # never above torch's own count
        (4, 4, 8, 0, 1),  # at least one
    ],
)
def test_the_budget_counts_the_cores_others_leave(
    cores: int, full: int, others: int, ours: int, expected: int
) -> None:
    assert work.budget(cores, full, others, ours) == expected


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="0 \\(off\\) to 19"):
        work.configure(niceness=20)
    with pytest.raises(ValueError, match="at least 1"):
        work.configure(torch_threads=0)


REBUDGET = textwrap.dedent(
    """
    import os, subprocess, sys, time
    import torch
    from genai_mcp.tools import work

    work.REBUDGET_SECONDS = 0.0  # every step re-reads the machine
    seen = []

    def long_work():
        seen.append(torch.get_num_threads())  # the start: whatever the machine allowed
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count())]
        try:
            time.sleep(0.5)
            work.rebudget()  # a step, with every core now taken by others
            seen.append(torch.get_num_threads())
        finally:
            for hog in hogs:
                hog.kill()
        return seen

    assert work.run_work(long_work)[-1] == 1, seen
    assert work._running_threads == 0  # the item's threads, as rebudget left them, handed back
    print("ok")
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/loadavg is Linux's")
def test_running_work_gives_back_threads_when_others_arrive() -> None:
    child(REBUDGET, OMP_NUM_THREADS=str(max(2, os.cpu_count() or 2)))


def test_rebudget_outside_work_does_nothing() -> None:
    work.rebudget()
