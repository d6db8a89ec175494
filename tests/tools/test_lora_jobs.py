"""JobManager: admission, queueing, cancellation within one step, failures, forgetting.

The jobs here are small step loops instead of real training (the real thing is covered in
test_lora_train.py and through MCP in tests/server/test_lora_tools.py): what is under test is the
manager's bookkeeping, which a real run only makes slower.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from genai_mcp.tools.errors import BusyError, InvalidInputError
from genai_mcp.tools.lora.curve import CURVE_POINTS
from genai_mcp.tools.lora.jobs import JobLimits, JobManager
from genai_mcp.tools.lora.schemas import LoraResult
from genai_mcp.tools.lora.train import LossHook
from genai_mcp.tools.progress import Progress
from tests.helpers.lora import made_up_result

Run = Callable[[Progress, LossHook], LoraResult]


class Hold:
    """A handshake with a job's `run`: it stops after `after` steps until the test releases it.

    `reached()` returns once the job is there (so it is running: the worker has picked it up);
    whatever the test does before `release()` happens while the job is known to be at that step.
    """

    def __init__(self, after: int = 0) -> None:
        self.after = after
        self._reached = threading.Event()
        self._released = threading.Event()

    def stop_here(self) -> None:  # called by the job's thread
        self._reached.set()
        assert self._released.wait(10), "the test never released the job"

    def reached(self) -> None:
        assert self._reached.wait(10), f"the job never got to step {self.after}"

    def release(self) -> None:
        self._released.set()


def _steps(adapter: str, steps: int, *, hold: Hold | None = None) -> Run:
    """A job's run as train() makes the calls: progress after each step, then its loss."""

    def run(progress: Progress, on_loss: LossHook) -> LoraResult:
        if hold is not None and hold.after == 0:
            hold.stop_here()
        for step in range(1, steps + 1):
            progress(step, steps, f"step {step}/{steps}")
            on_loss(step, 1.0 / step)
            if hold is not None and hold.after == step:
                hold.stop_here()
        return made_up_result(adapter, steps)

    return run


def test_a_job_runs_to_success_with_its_loss_curve() -> None:
    jobs = JobManager()
    info = jobs.submit(_steps("a", 5), adapter="a", task="causal-lm", total_steps=5)
    assert info.state in ("queued", "running")
    done = jobs.wait(info.job_id, 10)
    assert done.state == "succeeded"
    assert done.step == 5 and done.total_steps == 5
    assert [p.step for p in done.loss_curve] == [1, 2, 3, 4, 5]
    assert done.result is not None and done.result.adapter == "a"
    assert done.metric_after == pytest.approx(4.48)
    assert done.elapsed_seconds is not None and done.finished is not None


def test_second_job_waits_in_the_queue_and_a_third_is_refused_as_busy() -> None:
    hold = Hold()
    jobs = JobManager(limits=JobLimits(max_queued=1))
    first = jobs.submit(_steps("a", 3, hold=hold), adapter="a", task="causal-lm", total_steps=3)
    hold.reached()  # the worker has picked it up: it is the running job
    second = jobs.submit(_steps("b", 3), adapter="b", task="causal-lm", total_steps=3)
    assert second.state == "queued" and second.queue_position == 1
    with pytest.raises(BusyError, match=r"busy: job lora-.* \(adapter 'a'\).*1 job\(s\) may wait") as busy:
        jobs.submit(_steps("c", 3), adapter="c", task="causal-lm", total_steps=3)
    assert busy.value.setting == "lora.max_queued"
    with pytest.raises(BusyError, match="busy"):
        jobs.check_room()
    hold.release()
    assert jobs.wait(second.job_id, 10).state == "succeeded"
    assert jobs.status(first.job_id).state == "succeeded"
    assert [j.adapter for j in jobs.list()] == ["b", "a"]  # newest first


def test_no_queue_means_busy_at_once() -> None:
    hold = Hold()
    jobs = JobManager(limits=JobLimits(max_queued=0))
    first = jobs.submit(_steps("a", 2, hold=hold), adapter="a", task="causal-lm", total_steps=2)
    hold.reached()
    with pytest.raises(BusyError, match="0 job"):
        jobs.submit(_steps("b", 2), adapter="b", task="causal-lm", total_steps=2)
    hold.release()
    jobs.wait(first.job_id, 10)


def test_cancel_stops_a_running_job_within_one_step() -> None:
    hold = Hold(after=5)
    jobs = JobManager()
    info = jobs.submit(_steps("a", 10, hold=hold), adapter="a", task="causal-lm", total_steps=10)
    hold.reached()
    assert jobs.cancel(info.job_id).state == "running"  # it stops at its next step, not at once
    hold.release()
    done = jobs.wait(info.job_id, 10)
    assert done.state == "cancelled"
    assert done.result is None
    assert done.step == 5  # step 6 asked for progress and was refused
    assert done.error is not None and "cancelled after" in done.error


def test_cancel_removes_a_queued_job_and_final_jobs_stay_final() -> None:
    hold = Hold()
    jobs = JobManager(limits=JobLimits(max_queued=2))
    first = jobs.submit(_steps("a", 2, hold=hold), adapter="a", task="causal-lm", total_steps=2)
    hold.reached()
    queued = jobs.submit(_steps("b", 2), adapter="b", task="causal-lm", total_steps=2)
    assert jobs.cancel(queued.job_id).state == "cancelled"
    hold.release()
    assert jobs.wait(first.job_id, 10).state == "succeeded"
    assert jobs.cancel(first.job_id).state == "succeeded"
    assert jobs.status(queued.job_id).step == 0


def test_a_failing_job_records_why_and_the_worker_goes_on() -> None:
    def broken(progress: Progress, on_loss: LossHook) -> LoraResult:
        progress(1, 3)
        on_loss(1, 0.5)
        raise InvalidInputError("the dataset went away")

    def bug(progress: Progress, on_loss: LossHook) -> LoraResult:
        raise ZeroDivisionError("division by zero")

    jobs = JobManager(limits=JobLimits(max_queued=3))
    failed = jobs.submit(broken, adapter="a", task="causal-lm", total_steps=3)
    crashed = jobs.submit(bug, adapter="b", task="causal-lm", total_steps=3)
    ok = jobs.submit(_steps("c", 2), adapter="c", task="causal-lm", total_steps=2)
    assert jobs.wait(failed.job_id, 10).error == "the dataset went away"
    assert jobs.wait(crashed.job_id, 10).error == "internal error: ZeroDivisionError: division by zero"
    assert jobs.wait(ok.job_id, 10).state == "succeeded"


def test_one_adapter_name_per_live_job_and_unknown_ids_are_named() -> None:
    hold = Hold()
    jobs = JobManager()
    first = jobs.submit(_steps("same", 2, hold=hold), adapter="same", task="causal-lm", total_steps=2)
    with pytest.raises(InvalidInputError, match="'same' is already being trained"):
        jobs.submit(_steps("same", 2), adapter="same", task="causal-lm", total_steps=2)
    with pytest.raises(InvalidInputError, match=r"no job 'lora-nope'.*list the jobs"):
        jobs.status("lora-nope")
    hold.release()
    jobs.wait(first.job_id, 10)


def test_old_jobs_are_forgotten_and_long_curves_thinned() -> None:
    jobs = JobManager(keep=2, limits=JobLimits(max_queued=5))
    ids = []
    for name in "abc":
        ids.append(jobs.submit(_steps(name, 2), adapter=name, task="causal-lm", total_steps=2).job_id)
        jobs.wait(ids[-1], 10)
    jobs.submit(_steps("d", 2), adapter="d", task="causal-lm", total_steps=2)
    assert {j.adapter for j in jobs.list()} >= {"c", "d"}
    with pytest.raises(InvalidInputError):
        jobs.status(ids[0])
    long = jobs.submit(_steps("e", 1000), adapter="e", task="causal-lm", total_steps=1000)
    curve = jobs.wait(long.job_id, 10).loss_curve
    assert len(curve) <= CURVE_POINTS and curve[-1].step == 1000 and curve[0].step == 1


def test_close_cancels_running_and_queued_jobs_and_refuses_new_ones() -> None:
    hold = Hold(after=1)
    jobs = JobManager(limits=JobLimits(max_queued=1))
    running = jobs.submit(_steps("a", 10, hold=hold), adapter="a", task="causal-lm", total_steps=10)
    hold.reached()
    queued = jobs.submit(_steps("b", 2), adapter="b", task="causal-lm", total_steps=2)
    jobs.close(timeout=0)  # the running job is held here, so don't wait for the worker yet
    assert jobs.status(queued.job_id).state == "cancelled"  # at once
    with pytest.raises(BusyError, match="shutting down"):
        jobs.submit(_steps("c", 2), adapter="c", task="causal-lm", total_steps=2)
    hold.release()
    jobs.close()  # again: now it waits for the worker, which stops the running job at its next step
    done = jobs.status(running.job_id)
    assert done.state == "cancelled" and done.step == 1


def test_heartbeats_check_cancellation_without_adding_steps() -> None:
    hold = Hold()

    def evaluating(progress: Progress, on_loss: LossHook) -> LoraResult:
        for _ in range(3):  # a long held-out evaluation: heartbeats only
            progress(0, 5, "evaluating")
        hold.stop_here()
        while True:  # ends only when a heartbeat raises
            progress(0, 5, "evaluating")

    jobs = JobManager()
    info = jobs.submit(evaluating, adapter="a", task="causal-lm", total_steps=5)
    hold.reached()
    running = jobs.status(info.job_id)
    assert running.state == "running" and running.step == 0 and running.loss_curve == []
    jobs.cancel(info.job_id)
    hold.release()
    assert jobs.wait(info.job_id, 10).state == "cancelled"
