"""A fine-tuning worker: a procrastinate worker that trains the jobs replicas queue (queue_pg.py).

One worker runs one job at a time (concurrency 1: training takes every core it is given). It runs
either in a thread of a replica (its own event loop, never the MCP one) or as the foreground of
`genai-mcp worker`. For each job procrastinate hands it (each to exactly one worker), it:

1. claims the record (row-locked against a concurrent cancel_job): a job cancelled while queued
   is never run, and the record is now owned by this worker, whose liveness PostgreSQL tracks by a
   session advisory lock (records_pg.WorkerRecords: dropped however the process ends);
2. prepares the job again from its TrainingOrder (orders.py) and trains it, writing step and loss
   to the record (the first step at once, then at most every RECORD_EVERY_S);
3. stops within a step when cancelled through any replica (procrastinate's abort request reaches
   it by notification; the record's flag at its next save) or when the worker itself is stopped
   (SIGTERM, Ctrl-C, the replica shutting down): nothing is saved, the record says why;
4. writes the final record: succeeded with the result, failed with the reason, or cancelled.

A worker killed outright leaves its record running under a dead owner; readers mark it failed
(queue_pg.lost). A worker cut off from the database while it goes on (the connection holding its
lock lost) looks just as dead, and is failed the same way: its writes only update a record that is
still running (records_pg.save_own), so the first one after the verdict stops the job, and it holds
its lock again before it claims the next. Nothing half-written remains: the adapter store renames a
complete folder into place or nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genai_mcp.tools.errors import GenAIError, WorkCancelledError
from genai_mcp.tools.lora.curve import LossCurve
from genai_mcp.tools.lora.jobs import RECORD_EVERY_S
from genai_mcp.tools.lora.orders import TrainingOrder
from genai_mcp.tools.lora.queue_pg import TASK_NAME
from genai_mcp.tools.lora.records_pg import WorkerRecords
from genai_mcp.tools.lora.schemas import JobInfo, JobState, LoraResult, utc_now
from genai_mcp.tools.progress import Progress
from genai_mcp.tools.work import rebudget, run_work

if TYPE_CHECKING:
    from procrastinate.job_context import JobContext
    from procrastinate.worker import Worker

    from genai_mcp.tools.lora.train import LossHook

__all__ = ["PgJobWorker", "Trainer"]

logger = logging.getLogger(__name__)
Trainer = Callable[[TrainingOrder, Progress, "LossHook"], LoraResult]
_SHUT_DOWN = (
    "the worker shut down at step {step} of {total}; no adapter was saved: start it again with lora_finetune"
)
_CUT_OFF = (
    "the worker was cut off from the database at step {step} of {total} and the job was declared "
    "failed meanwhile; no adapter was saved: start it again with lora_finetune"
)


@dataclass
class _Running:
    """The job this worker trains, as its record will say."""

    info: JobInfo
    curve: LossCurve = field(default_factory=LossCurve)
    t_start: float = field(default_factory=time.monotonic)
    recorded_at: float | None = None
    stop: str | None = None  # why it must stop at its next step

    def record(self, step: int, loss: float) -> None:
        self.curve.add(step, loss)
        self.info = self.info.model_copy(update={"step": step, "loss": loss})

    def now(self, **update: Any) -> JobInfo:
        elapsed = round(time.monotonic() - self.t_start, 3)
        return self.info.model_copy(
            update={"loss_curve": self.curve.shown(), "elapsed_seconds": elapsed, **update}
        )


class PgJobWorker:
    """Runs queued fine-tuning jobs from the database at `url` with `trainer` (orders.OrderTrainer)."""

    def __init__(self, url: str, trainer: Trainer, *, name: str = "genai-mcp") -> None:
        import procrastinate

        self.url = url
        self.trainer = trainer
        self.name = name
        self.records = WorkerRecords(url)  # this worker's owner id, alive while its lock is held
        connector = procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=3)
        self.app = procrastinate.App(connector=connector)
        # retry=False: a job is never run twice behind the user's back (README, Scaling out).
        self.app.task(name=TASK_NAME, pass_context=True, retry=False)(self._run)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker: Worker | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifetime ----------------------------------------------------------------------------------

    def run(self, *, handle_signals: bool = True) -> None:
        """Fetch and train jobs until stopped: by SIGTERM / SIGINT with `handle_signals`, or stop().
        A job running then is cancelled at its next step. Raises psycopg's errors if the database fails."""
        self.records.hold()
        try:
            asyncio.run(self._serve(handle_signals))
        finally:
            self.records.close()

    def start(self) -> None:
        """run() in a thread of this process, on an event loop of its own."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run_here, name="lora-worker", daemon=True)
        self._thread.start()

    def _run_here(self) -> None:
        try:
            self.run(handle_signals=False)
        except Exception:  # the replica keeps serving (and queuing); its jobs wait for other workers
            logger.exception(
                "the fine-tuning worker %s stopped on an error; this replica trains no jobs", self.name
            )

    def stop(self, timeout: float = 30.0) -> None:
        """Stop fetching jobs, cancel the running one at its next step, wait up to `timeout` s."""
        self._stopping.set()
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has just ended
                loop.call_soon_threadsafe(self._stop_on_loop)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _stop_on_loop(self) -> None:
        if self._worker is not None:
            self._worker.stop()  # type: ignore[no-untyped-call]

    async def _serve(self, handle_signals: bool) -> None:
        from procrastinate.worker import Worker

        self._loop = asyncio.get_running_loop()
        try:
            async with self.app.open_async():
                worker = Worker(
                    self.app,
                    name=self.name,
                    concurrency=1,
                    shutdown_graceful_timeout=0,  # a running job is asked to stop at once
                    # The order (its dataset inline, maybe megabytes) is not kept once done: how the
                    # job went is in its record, which keeps the newest lora_jobs_kept.
                    delete_jobs="always",
                    install_signal_handlers=handle_signals,
                )
                # No await between here and worker.run() clearing its stop event: a stop() either
                # comes before (seen here) or reaches the running worker.
                self._worker = worker
                if self._stopping.is_set():
                    return
                await worker.run()  # type: ignore[no-untyped-call]
        finally:
            self._worker, self._loop = None, None

    # -- one job (in procrastinate's thread for sync tasks) -----------------------------------------

    def _run(self, context: JobContext, order: dict[str, Any]) -> str:
        from procrastinate.job_context import AbortReason

        ordered = TrainingOrder.model_validate(order)
        info = self._claim(ordered)
        if info is None:
            logger.info("job %s was cancelled before it started; not run", ordered.job_id)
            return "cancelled before it started"
        job = _Running(info)
        logger.info(
            "job %s started on worker %s: %s adapter %r", info.job_id, self.name, info.task, info.adapter
        )

        def progress(done: int, total: int | None, message: str | None = None) -> None:
            rebudget()  # the training's torch threads, revisited now and then (tools/work.py)
            reason = context.abort_reason()
            if reason is not None and job.stop is None:
                job.stop = "shutdown" if reason == AbortReason.SHUTDOWN else "cancel"
            if job.stop == "shutdown":
                raise WorkCancelledError(_SHUT_DOWN.format(step=job.info.step, total=job.info.total_steps))
            if job.stop == "lost":
                raise WorkCancelledError(_CUT_OFF.format(step=job.info.step, total=job.info.total_steps))
            if job.stop is not None:
                raise WorkCancelledError(
                    f"job {info.job_id} was cancelled after {job.info.step} of {job.info.total_steps} steps"
                )

        def on_loss(step: int, loss: float) -> None:
            job.record(step, loss)
            now = time.monotonic()
            if job.recorded_at is None or now - job.recorded_at >= RECORD_EVERY_S:
                job.recorded_at = now
                written, cancel = self.records.save_own(job.now())
                if not written:
                    job.stop = "lost"  # a reader took this worker for dead: the record says failed
                elif cancel and job.stop is None:
                    job.stop = "cancel"  # cancel_job through a replica flagged the record

        state: JobState
        error: str | None
        result: LoraResult | None = None
        try:
            result = run_work(self.trainer, ordered, progress, on_loss)
        except WorkCancelledError as exc:
            state, error = "cancelled", str(exc)
        except GenAIError as exc:
            state, error = "failed", str(exc)
        except Exception as exc:  # a bug: keep the worker for the next job, say what broke
            logger.exception("job %s: internal error", info.job_id)
            state, error = "failed", f"internal error: {type(exc).__name__}: {exc}"
        else:
            state, error = "succeeded", None
        final = job.now(state=state, error=error, finished=utc_now(), result=result)
        if result is not None:
            final = final.model_copy(
                update={
                    "eval_metric": result.eval_metric,
                    "metric_before": result.metric_before,
                    "metric_after": result.metric_after,
                }
            )
        if not self.records.save_own(final, succeeded=state == "succeeded")[0]:
            logger.warning(
                "job %s was declared failed while this worker was cut off from the database; its "
                "record stays so (this run: %s)",
                info.job_id,
                state,
            )
        level = logging.WARNING if state == "failed" else logging.INFO
        logger.log(
            level,
            "job %s %s (adapter %r, %d of %s steps)%s",
            info.job_id,
            state,
            info.adapter,
            final.step,
            final.total_steps,
            f": {error}" if error else "",
        )
        # Returned, not raised: procrastinate's status says the worker is done with the job (and it
        # logs a raised cancellation with a traceback); how it ended is the record's to say.
        return state

    def _claim(self, order: TrainingOrder) -> JobInfo | None:
        """Make the job's record this worker's and running; None if it was cancelled meanwhile."""
        import psycopg

        self.records.hold()  # its owner must look alive from here on, or readers fail the job
        with psycopg.connect(self.url) as db:
            row = db.execute(
                "SELECT info, cancel_requested FROM genai_mcp_jobs WHERE job_id = %s FOR UPDATE",
                (order.job_id,),
            ).fetchone()
            info = order.queued() if row is None else JobInfo.model_validate(row[0])
            if info.state != "queued":
                return None
            if row is not None and row[1]:
                update: dict[str, Any] = {"state": "cancelled", "error": "cancelled before it started"}
            else:
                update = {"state": "running", "started": utc_now(), "queue_position": None}
            info = info.model_copy(
                update={**update, "finished": utc_now() if update["state"] == "cancelled" else None}
            )
            db.execute(
                "INSERT INTO genai_mcp_jobs (job_id, owner, info) VALUES (%s, %s, %s::jsonb) "
                "ON CONFLICT (job_id) DO UPDATE SET owner = excluded.owner, info = excluded.info",
                (order.job_id, self.records.owner, info.model_dump_json()),
            )
        return info if info.state == "running" else None
