"""Job records through the job manager, in SQLite (tools/lora/records.py): what a restart reads
back, and what another server sharing them sees and does. (With a database, jobs go through the
queue and its workers instead: tests/server/test_job_workers.py.)

Real training jobs would add minutes here; these jobs are plain callables that report steps and
losses the way train() does. The restart of a real server killed mid-training is
tests/server/test_job_restart.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from genai_mcp.tools.lora import LoraResult
from genai_mcp.tools.lora.jobs import JobManager
from genai_mcp.tools.lora.records import INTERRUPTED, JobRecords
from genai_mcp.tools.lora.train import LossHook
from genai_mcp.tools.progress import Progress
from tests.helpers.lora import made_up_result

Make = Callable[[], JobRecords]  # a new server's records, on the store the test shares


@pytest.fixture
def make(tmp_path: Path) -> Make:
    return lambda: JobRecords(tmp_path / "jobs.sqlite3")


Run = Callable[[Progress, LossHook], LoraResult]


def _quick(adapter: str, steps: int) -> Run:
    def run(progress: Progress, on_loss: LossHook) -> LoraResult:
        for step in range(1, steps + 1):
            progress(step, steps, f"step {step}/{steps}")
            on_loss(step, 1.0 / step)
        return made_up_result(adapter, steps)

    return run


def _stuck(started: threading.Event) -> Run:
    """A job that reports one step, then trains until cancelled (the process 'dies' meanwhile)."""

    def run(progress: Progress, on_loss: LossHook) -> LoraResult:
        progress(1, 1000, "step 1/1000")
        on_loss(1, 2.5)
        started.set()
        step = 1
        while True:
            step += 1
            progress(step, 1000, f"step {step}/1000")  # raises once cancelled
            on_loss(step, 2.0)
            threading.Event().wait(0.01)

    return run


def test_finished_jobs_come_back_and_a_running_one_comes_back_failed(make: Make) -> None:
    first = make()
    jobs = JobManager(records=first)
    done = jobs.submit(_quick("kept", 3), adapter="kept", task="causal-lm", total_steps=3)
    assert jobs.wait(done.job_id, 30).state == "succeeded"
    started = threading.Event()
    cut = jobs.submit(_stuck(started), adapter="cut", task="causal-lm", total_steps=1000)
    assert started.wait(30)

    # A second server on the same file while the first lives: it sees the first's jobs as they are
    # (running, not taken over as interrupted).
    peer = JobManager(records=make())
    assert [(j.job_id, j.state) for j in peer.list()] == [(cut.job_id, "running"), (done.job_id, "succeeded")]
    del peer

    first.close()  # what the first process's death does to its lock
    later = JobManager(records=make())
    by_id = {j.job_id: j for j in later.list()}
    assert list(by_id) == [cut.job_id, done.job_id]  # newest first, as before the restart
    kept = by_id[done.job_id]
    assert kept.state == "succeeded" and kept.step == 3 and kept.result is not None
    assert [p.loss for p in kept.loss_curve] == [1.0, 0.5, 1 / 3]
    failed = by_id[cut.job_id]
    assert failed.state == "failed" and failed.error == INTERRUPTED.format(state="running")
    assert later.status(cut.job_id) == failed

    jobs.cancel(cut.job_id)  # the old manager's thread, still alive in this test process
    assert jobs.wait(cut.job_id, 30).state == "cancelled"


def test_pruned_jobs_leave_the_records(make: Make) -> None:
    records = make()
    jobs = JobManager(records=records, keep=2)
    ids = []
    for i in range(4):
        info = jobs.submit(_quick(f"a{i}", 1), adapter=f"a{i}", task="causal-lm", total_steps=1)
        assert jobs.wait(info.job_id, 30).state == "succeeded"
        ids.append(info.job_id)
    records.close()
    restored = [j.job_id for j in JobManager(records=make()).list()]
    # keep=2 prunes at each submit, so the oldest went when the fourth was queued.
    assert restored == [ids[3], ids[2], ids[1]]


def test_cancelled_jobs_are_recorded_as_cancelled(make: Make) -> None:
    records = make()
    jobs = JobManager(records=records)
    started = threading.Event()
    info = jobs.submit(_stuck(started), adapter="stopped", task="causal-lm", total_steps=1000)
    assert started.wait(30)
    jobs.cancel(info.job_id)
    assert jobs.wait(info.job_id, 30).state == "cancelled"
    records.close()
    (restored,) = JobManager(records=make()).list()
    assert restored.state == "cancelled" and "was cancelled after" in (restored.error or "")


def test_another_server_on_the_records_follows_and_cancels_a_job(make: Make) -> None:
    runner, other = JobManager(records=make()), JobManager(records=make())
    started = threading.Event()
    info = runner.submit(_stuck(started), adapter="far", task="causal-lm", total_steps=1000)
    assert started.wait(30)
    seen = other.status(info.job_id)  # what the runner last wrote: its first step, at once
    assert seen.state == "running" and seen.step >= 1 and seen.adapter == "far"
    assert [j.job_id for j in other.list()] == [info.job_id]

    asked = other.cancel(info.job_id)
    assert asked.state == "running"  # a request: the runner stops it when it next records progress
    followed = other.wait(info.job_id, 30)  # polls the record: the runner's own end, written there
    assert followed.state == "cancelled", followed
    assert runner.wait(info.job_id, 30) == followed
