"""Fine-tuning jobs in one server (queue_pg.py has them with a database): one thread runs them, in order.

A job is submitted with a `run(progress, on_loss)` callable; the worker calls it, and `run` hands
both to train(). `progress(done, total, message)` (tools/progress.py), after every optimizer step
and between evaluation batches, is where cancellation lands: once `cancel(job_id)` is called, the
next `progress` raises WorkCancelledError, so a running job stops within one step or evaluation
batch (and saves nothing). `on_loss(step, loss)`, after each step's progress call, records the
job's step, latest loss and loss curve.

Admission: while a job runs, at most `limits.max_queued` more may wait (0: a second job is refused
at once). A full queue raises BusyError naming the running job (setting "lora.max_queued").
Finished jobs are remembered (newest `keep`) for status and listing. With `records` (records.py, a
SQLite file under the data directory) they survive a restart: each change of state is written there
(and a running job's step and loss, the first step at once, then at most every RECORD_EVERY_S), and a
job a dead process left queued or running comes back failed, its adapter never saved.

A job runs in a copy of the context it was submitted from (contextvars), so whatever the submitting
call set there (a server's route for log records) also holds for the job's run and its log lines:
queued, started, succeeded / failed / cancelled, each with its figures.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from genai_mcp.tools.errors import BusyError, GenAIError, InvalidInputError, WorkCancelledError
from genai_mcp.tools.limits import limit
from genai_mcp.tools.lora.job import Job
from genai_mcp.tools.lora.schemas import JobInfo, JobState, LoraResult, LoraTask, utc_now
from genai_mcp.tools.progress import Progress
from genai_mcp.tools.work import rebudget, run_work

if TYPE_CHECKING:
    from genai_mcp.tools.lora.records import JobRecords
    from genai_mcp.tools.lora.train import LossHook

__all__ = ["JobLimits", "JobManager"]

RECORD_EVERY_S = 1.0  # a running job's step and loss reach its record at most this often
_POLL_S = 0.2  # how often wait() re-reads the record of a job another server runs
logger = logging.getLogger(__name__)
_FINAL: frozenset[JobState] = frozenset({"succeeded", "failed", "cancelled"})


@dataclass(frozen=True)
class JobLimits:
    """How many jobs may wait behind the running one (0: a second job is refused as busy)."""

    max_queued: int = limit("lora.max_queued", 1)


class JobManager:
    """Queue and run fine-tuning jobs; every method is safe to call from any thread."""

    def __init__(
        self, *, limits: JobLimits | None = None, keep: int = 100, records: JobRecords | None = None
    ) -> None:
        self.limits = limits or JobLimits()
        self.keep = keep
        self.records = records
        self._jobs: dict[str, Job] = {}  # insertion order = submission order
        for info in records.restore() if records is not None else []:
            self._jobs[info.job_id] = Job.restored(info)
        self._queue: deque[Job] = deque()
        self._running: Job | None = None
        self._changed = threading.Condition()
        self._worker: threading.Thread | None = None
        self._closed = False

    def submit(
        self,
        run: Callable[[Progress, LossHook], LoraResult],
        *,
        adapter: str,
        task: LoraTask,
        total_steps: int | None,
    ) -> JobInfo:
        """Queue `run`; BusyError if the queue is full, InvalidInputError if `adapter` is taken by a live job."""
        with self._changed:
            live = [j for j in self._jobs.values() if j.state in ("queued", "running")]
            for other in live:
                if other.adapter == adapter:
                    raise InvalidInputError(
                        f"adapter name {adapter!r} is already being trained by job {other.job_id} "
                        f"({other.state}); choose another name"
                    )
            self._check_room()
            job = Job(
                job_id="lora-" + secrets.token_hex(4),
                adapter=adapter,
                task=task,
                run=run,
                total_steps=total_steps,
            )
            self._jobs[job.job_id] = job
            self._queue.append(job)
            self._save(job)
            self._forget_old()
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="lora-jobs", daemon=True)
                self._worker.start()
            self._changed.notify_all()
            info = self._info(job)
        logger.info(
            "job %s queued: %s adapter %r, %s steps, %s",
            job.job_id,
            task,
            adapter,
            total_steps,
            f"queue position {info.queue_position}" if info.queue_position else "starting now",
            extra={"figures": _figures(info)},
        )
        return info

    def check_room(self) -> None:
        """BusyError now if a new job would be refused, so callers can say so before preparing one."""
        with self._changed:
            self._check_room()

    def status(self, job_id: str) -> JobInfo:
        """A job's state; one another server sharing the records runs, as last recorded."""
        with self._changed:
            if job_id not in self._jobs and (theirs := self._theirs(job_id)) is not None:
                return theirs
            return self._info(self._get(job_id))

    def list(self) -> list[JobInfo]:
        """All remembered jobs, newest first, those of live servers sharing the records included."""
        with self._changed:
            ours = [self._info(j) for j in reversed(self._jobs.values())]
        if self.records is None:
            return ours
        theirs = [j for j in self.records.others() if j.job_id not in self._jobs]
        return sorted(ours + theirs[::-1], key=lambda j: j.created, reverse=True)

    def cancel(self, job_id: str) -> JobInfo:
        """Stop a job: a queued one at once, a running one at its next step. Final jobs are left alone.

        A job another server runs is flagged in the shared records; that server stops it when it
        next records the job's progress (within RECORD_EVERY_S and a step)."""
        with self._changed:
            if job_id not in self._jobs and self.records is not None:
                theirs = self.records.request_cancel(job_id)
                if theirs is not None:
                    return theirs
            job = self._get(job_id)
            if job.state == "queued":
                self._queue.remove(job)
                self._finish(job, "cancelled", "cancelled before it started")
            elif job.state == "running":
                job.cancel.set()
            return self._info(job)

    def wait(self, job_id: str, timeout: float, *, past_step: int | None = None) -> JobInfo:
        """Block until the job is final (or, with `past_step`, has gone beyond that step), or `timeout` s."""
        deadline = time.monotonic() + timeout
        if job_id not in self._jobs and (theirs := self._theirs(job_id)) is not None:
            # Another server runs it: nothing here is notified, so re-read its record now and then.
            while theirs.state not in _FINAL and (past_step is None or theirs.step <= past_step):
                if time.monotonic() >= deadline:
                    break
                time.sleep(min(_POLL_S, max(0.0, deadline - time.monotonic())))
                theirs = self._theirs(job_id) or theirs
            return theirs
        with self._changed:
            job = self._get(job_id)
            while job.state not in _FINAL and (past_step is None or job.step <= past_step):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return self._info(job)

    def close(self, timeout: float = 5.0) -> None:
        """Refuse new jobs, cancel queued and running ones, and wait up to `timeout` s for the worker."""
        with self._changed:
            self._closed = True
            for job in list(self._queue):
                self._finish(job, "cancelled", "the server shut down before it started")
            self._queue.clear()
            if self._running is not None:
                self._running.cancel.set()
            self._changed.notify_all()
            worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def open(self) -> None:
        """Accept jobs again after close(): a server whose sessions all ended may get a new one."""
        with self._changed:
            self._closed = False

    # -- worker --------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._queue and not self._closed:
                    self._changed.wait()
                if not self._queue:
                    self._worker = None  # under the lock: a submit after open() starts a new one
                    return
                job = self._queue.popleft()
                self._running = job
                job.state, job.started, job.t_start = "running", utc_now(), time.monotonic()
                run, job.run = job.run, None  # the closure holds a model copy and data: drop it after use
                self._save(job)
                self._changed.notify_all()
            assert run is not None
            job.context.run(self._run, job, run)

    def _run(self, job: Job, run: Callable[[Progress, LossHook], LoraResult]) -> None:
        logger.info("job %s started: %s adapter %r", job.job_id, job.task, job.adapter)
        try:
            # Training is model work: at the work priority and thread budget (tools/work.py).
            result = run_work(run, functools.partial(self._progress, job), functools.partial(self._loss, job))
        except WorkCancelledError as exc:
            self._end(job, "cancelled", str(exc))
        except GenAIError as exc:
            self._end(job, "failed", str(exc))
        except Exception as exc:  # a bug: keep the worker alive for the next job, say what broke
            logger.exception("job %s: internal error", job.job_id)
            self._end(job, "failed", f"internal error: {type(exc).__name__}: {exc}")
        else:
            with self._changed:
                job.result = result
            self._end(job, "succeeded", None)

    def _progress(self, job: Job, done: int, total: int | None, message: str | None = None) -> None:
        rebudget()  # the training's torch threads, revisited now and then (tools/work.py)
        with self._changed:
            if job.cancel.is_set():
                raise WorkCancelledError(
                    f"job {job.job_id} was cancelled after {job.step} of {job.total_steps} steps"
                )
            if total is not None:
                job.total_steps = total

    def _loss(self, job: Job, step: int, loss: float) -> None:
        with self._changed:
            job.record(step, loss)
            # The first step at once, then now and then: a restart tells how far a cut-off job got.
            now = time.monotonic()
            if self.records is not None and (
                job.recorded_at is None or now - job.recorded_at >= RECORD_EVERY_S
            ):
                job.recorded_at = now
                self._save(job)
            self._changed.notify_all()

    def _end(self, job: Job, state: JobState, error: str | None) -> None:
        with self._changed:
            self._finish(job, state, error)
            self._running = None

    def _finish(self, job: Job, state: JobState, error: str | None) -> None:
        job.state, job.error, job.finished, job.t_end = state, error, utc_now(), time.monotonic()
        job.run = None
        self._changed.notify_all()
        info = self._info(job)
        self._save(job, info)
        level = logging.WARNING if state == "failed" else logging.INFO
        outcome = f": {error}" if error else ""
        if job.result is not None:
            r = job.result
            outcome += f": {r.eval_metric} {r.metric_before:.4g} -> {r.metric_after:.4g}"
        logger.log(
            level,
            "job %s %s (adapter %r, %d of %s steps%s)%s",
            job.job_id,
            state,
            job.adapter,
            job.step,
            job.total_steps,
            "" if info.elapsed_seconds is None else f", {info.elapsed_seconds:.1f} s",
            outcome,
            extra={"figures": _figures(info)},
        )
        job.context = contextvars.Context()  # drop the submitter's context and what it holds

    # -- helpers (callers hold the lock) ---------------------------------------------------------

    def _check_room(self) -> None:
        if self._closed:
            raise BusyError("the server is shutting down; no new fine-tuning jobs are accepted")
        max_queued = self.limits.max_queued
        if self._running is not None and len(self._queue) >= max_queued:
            waiting = f" and {len(self._queue)} waiting" if self._queue else ""
            raise BusyError(
                f"busy: job {self._running.job_id} (adapter {self._running.adapter!r}) is training"
                f"{waiting}; {max_queued} job(s) may wait. Try again when it finishes (poll its "
                "status), or cancel it.",
                setting="lora.max_queued",
            )

    def _save(self, job: Job, info: JobInfo | None = None) -> None:
        if self.records is not None and self.records.save(info or self._info(job)):
            job.cancel.set()  # another server asked (cancel_job through another replica)

    def _theirs(self, job_id: str) -> JobInfo | None:
        return self.records.get(job_id) if self.records is not None else None

    def _get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            known = ", ".join(list(self._jobs)[-5:]) or "none"
            raise InvalidInputError(
                f"no job {job_id[:80]!r} in this server's job records (recent: {known}); list the jobs "
                "to see all that are remembered"
            )
        return job

    def _forget_old(self) -> None:
        final = [j for j in self._jobs.values() if j.state in _FINAL]
        forgotten = final[: max(0, len(final) - self.keep)]
        for job in forgotten:
            del self._jobs[job.job_id]
        if self.records is not None:
            self.records.forget([j.job_id for j in forgotten])

    def _info(self, job: Job) -> JobInfo:
        position = None
        if job.state == "queued":
            position = self._queue.index(job) + (1 if self._running is not None else 0)
        return job.info(position)


def _figures(info: JobInfo) -> dict[str, object]:
    """A job's figures for its log records: what job_status says, without the curve and result."""
    return info.model_dump(mode="json", exclude={"loss_curve", "result"})
