"""One fine-tuning job of a server's own queue (jobs.py): what it is, how far it got, how it is shown.

The job manager changes a Job under its lock; `info()` is the JobInfo that job_status, list_jobs
and the records show of it. A job read back from the records (`restored`) is final: it has no
run to call and its elapsed time is kept as a span from 0.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from genai_mcp.tools.lora.curve import LossCurve
from genai_mcp.tools.lora.schemas import JobInfo, JobState, LoraResult, LoraTask, utc_now
from genai_mcp.tools.progress import Progress

if TYPE_CHECKING:
    from genai_mcp.tools.lora.train import LossHook

__all__ = ["Job"]


@dataclass
class Job:
    job_id: str
    adapter: str
    task: LoraTask
    run: Callable[[Progress, LossHook], LoraResult] | None
    total_steps: int | None
    state: JobState = "queued"
    step: int = 0
    loss: float | None = None
    curve: LossCurve = field(default_factory=LossCurve)
    created: str = field(default_factory=utc_now)
    started: str | None = None
    finished: str | None = None
    t_start: float | None = None
    t_end: float | None = None
    error: str | None = None
    result: LoraResult | None = None
    recorded_at: float | None = None  # monotonic time its step was last written to the records
    cancel: threading.Event = field(default_factory=threading.Event)
    context: contextvars.Context = field(default_factory=contextvars.copy_context)  # the submitter's

    @classmethod
    def restored(cls, info: JobInfo) -> Job:
        """A final job read back from the records (its elapsed time kept as a span from 0)."""
        job = cls(info.job_id, info.adapter, info.task, None, info.total_steps, info.state, info.step)
        job.loss, job.curve, job.result, job.error = (
            info.loss,
            LossCurve(info.loss_curve),
            info.result,
            info.error,
        )
        job.created, job.started, job.finished = info.created, info.started, info.finished
        if info.elapsed_seconds is not None:
            job.t_start, job.t_end = 0.0, info.elapsed_seconds
        return job

    def record(self, step: int, loss: float) -> None:
        self.step, self.loss = step, loss
        self.curve.add(step, loss)

    def info(self, queue_position: int | None) -> JobInfo:
        """The job as job_status shows it (`queue_position`: the manager's to say)."""
        elapsed = None
        if self.t_start is not None:
            elapsed = round((self.t_end or time.monotonic()) - self.t_start, 3)
        result = self.result
        return JobInfo(
            job_id=self.job_id,
            state=self.state,
            adapter=self.adapter,
            task=self.task,
            queue_position=queue_position,
            step=self.step,
            total_steps=self.total_steps,
            loss=self.loss,
            loss_curve=self.curve.shown(),
            eval_metric=result.eval_metric if result else None,
            metric_before=result.metric_before if result else None,
            metric_after=result.metric_after if result else None,
            created=self.created,
            started=self.started,
            finished=self.finished,
            elapsed_seconds=elapsed,
            error=self.error,
            result=result,
        )
