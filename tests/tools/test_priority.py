"""Model work below the protocol's priority (tools/priority.py), in a child process: the work
niceness is process-wide and a raised nice value cannot be lowered again."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent(
    """
    import contextvars, os, threading
    import torch
    from genai_mcp.tools.priority import run_work, set_work_niceness

    def nice_of(tid):
        return int(open(f"/proc/self/task/{tid}/stat").read().rsplit(")", 1)[1].split()[16])

    caller = threading.get_native_id()
    var = contextvars.ContextVar("v", default="unset")
    assert run_work(threading.get_native_id) == caller  # off: the calling thread itself
    set_work_niceness(5)
    var.set("the caller's")

    def work():
        torch.set_num_threads(2)
        a = torch.randn(512, 512)
        for _ in range(20):
            a = (a @ a).tanh()  # enough to start torch's intra-op threads from this thread
        return threading.get_native_id(), var.get()

    tid, seen = run_work(work)
    assert tid != caller and seen == "the caller's", (tid, seen)
    tids = [int(t) for t in os.listdir("/proc/self/task")]
    niced = [t for t in tids if nice_of(t) == nice_of(caller) + 5]
    assert tid in niced, [(t, nice_of(t)) for t in tids]
    assert len(niced) >= 2, "torch's threads started by the work thread inherit its nice value"

    def fails():
        raise ValueError("from the work thread")

    try:
        run_work(fails)
    except ValueError as exc:
        assert "from the work thread" in str(exc)
    else:
        raise AssertionError("the work's exception must reach the caller")
    print("ok")
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_work_runs_niced_with_torchs_threads_and_the_callers_context() -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_the_niceness_is_bounded() -> None:
    from genai_mcp.tools.priority import set_work_niceness

    with pytest.raises(ValueError, match="0 \\(off\\) to 19"):
        set_work_niceness(20)
