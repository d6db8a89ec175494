"""Fine-tuning jobs in PostgreSQL: what a replica does with them when a job database is configured.

A confirmed job becomes two rows written in one transaction: a procrastinate job (the task queue:
its arguments are the TrainingOrder, orders.py) and the job's record in genai_mcp_jobs (a JobInfo,
the source of truth job_status, list_jobs and lora_finetune's wait read from any replica). Whichever
worker fetches the procrastinate job first (worker_pg.py; procrastinate hands each job to exactly
one) claims the record, trains, and writes its step and loss there. So a replica only queues and
reads: a job keeps training when the replica that accepted it dies, and a queued one waits in the
database for any worker.

Admission is counted in the database, under a transaction-level advisory lock so that two replicas
admitting at once count each other: at most `max_queued` jobs wait while one runs (the embedded
rule, across every replica and worker), and an adapter name a live job is training is refused.

Cancellation: a job still queued in procrastinate is cancelled there and never runs; one a worker
has fetched gets the record's cancel flag and procrastinate's abort request, and its worker stops it
within a step. A worker that dies (SIGKILL, a lost machine) leaves its job's record running under an
owner whose session advisory lock PostgreSQL has dropped: the next reader marks it failed, once and
for all (`lost`), and procrastinate never retries it (tasks are registered with no retry, and the
project never calls retry_stalled_jobs): its adapter was never saved (store.py writes to a temporary
folder and renames), and a second silent run would change what the user confirmed.

Needs psycopg and procrastinate (`pip install 'genai-mcp[postgres]'`), imported on first use.
"""

from __future__ import annotations

import builtins
import threading
import time
from typing import TYPE_CHECKING, Any

from genai_mcp.tools.errors import BusyError, InvalidInputError
from genai_mcp.tools.lora.jobs import JobLimits
from genai_mcp.tools.lora.orders import TrainingOrder
from genai_mcp.tools.lora.records_pg import lock_key
from genai_mcp.tools.lora.schemas import JobInfo, utc_now
from genai_mcp.tools.pg import Database

if TYPE_CHECKING:
    import procrastinate
    import psycopg

__all__ = [
    "APPLICATION_NAME",
    "QUEUED_OWNER",
    "STRANDED",
    "TASK_NAME",
    "WORKER_LOST",
    "PgJobQueue",
    "ensure_schema",
    "lost",
]

TASK_NAME = "genai_mcp.lora_train"
QUEUED_OWNER = "0" * 16  # a queued job is the queue's, not any process's: no replica's death fails it
WORKER_LOST = (
    "the worker running this job stopped (killed, crashed or cut off from the database) at step "
    "{step} of {total}; no adapter was saved: start it again with lora_finetune"
)
STRANDED = (
    "the worker that fetched this job stopped before it started it (killed, crashed or cut off from "
    "the database); nothing was trained: start it again with lora_finetune"
)
_STALLED_S = 60  # procrastinate workers heartbeat every 10 s: a minute of silence is a dead one
_SCHEMA_LOCK = 0x67656E6169  # "genai": replicas starting at once apply the schema one at a time
_ADMISSION_LOCK = _SCHEMA_LOCK + 1
_POLL_S = 0.2  # how often wait() re-reads a record
_POOL_SIZE = 4  # a replica's concurrent job calls; more wait for a free connection
APPLICATION_NAME = "genai-mcp-jobs"  # how the queue's connections show in pg_stat_activity
_LIVE = "info->>'state' IN ('queued', 'running')"
_FINAL = ("succeeded", "failed", "cancelled")


def ensure_schema(url: str) -> None:
    """Create genai_mcp_jobs and procrastinate's tables unless they exist (safe from many replicas at
    once: under a session advisory lock). Raises psycopg's errors (their messages carry no password)."""
    import psycopg
    from procrastinate.schema import SchemaManager

    from genai_mcp.tools.lora.records_pg import SCHEMA

    with psycopg.connect(url, autocommit=True) as db:
        db.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
        try:
            db.execute(SCHEMA)
            db.execute("ALTER TABLE genai_mcp_jobs ADD COLUMN IF NOT EXISTS task_id BIGINT")
            (found,) = db.execute("SELECT to_regclass('procrastinate_jobs')").fetchone() or (None,)
            if found is None:
                with db.transaction():
                    db.execute(SchemaManager.get_schema())  # type: ignore[arg-type]
        finally:
            db.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))


def task_app() -> procrastinate.App:
    """A procrastinate App for deferring and cancelling on connections of our own (no pool)."""
    import procrastinate

    return procrastinate.App(connector=procrastinate.SyncPsycopgConnector())


def lost(info: JobInfo) -> JobInfo:
    """The record of a job whose worker is gone, as readers keep it from then on."""
    error = (WORKER_LOST if info.state == "running" else STRANDED).format(
        step=info.step, total=info.total_steps
    )
    return info.model_copy(update={"state": "failed", "error": error, "finished": utc_now()})


class PgJobQueue:
    """The jobs of every replica and worker on the database at `url`; safe to call from any thread."""

    def __init__(self, url: str, *, limits: JobLimits | None = None, keep: int = 100) -> None:
        self.url = url
        self.limits = limits or JobLimits()
        self.keep = keep
        self._app = task_app()
        self._task = self._app.task(name=TASK_NAME, retry=False)(_never_here)
        self._closed = threading.Event()
        # A waiting lora_finetune reads its job five times a second: pooled connections (tools/pg.py).
        self._db = Database(url, application_name=APPLICATION_NAME, size=_POOL_SIZE)

    def submit(self, order: TrainingOrder) -> JobInfo:
        """Queue `order`; BusyError if the queue is full, InvalidInputError if its adapter is taken."""
        with self._db.transaction() as db:
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_ADMISSION_LOCK,))
            live = self._live(db)
            for other in live:
                if other.adapter == order.adapter:
                    raise InvalidInputError(
                        f"adapter name {order.adapter!r} is already being trained by job {other.job_id} "
                        f"({other.state}); choose another name"
                    )
            self._check_room(live)
            task_id = self._task.configure(connection=db).defer(order=order.model_dump(mode="json"))
            info = order.queued()
            db.execute(
                "INSERT INTO genai_mcp_jobs (job_id, owner, info, task_id) VALUES (%s, %s, %s::jsonb, %s) "
                "ON CONFLICT (job_id) DO NOTHING",
                (order.job_id, QUEUED_OWNER, info.model_dump_json(), task_id),
            )
            db.execute(
                "DELETE FROM genai_mcp_jobs WHERE job_id IN (SELECT job_id FROM genai_mcp_jobs "
                f"WHERE NOT ({_LIVE}) ORDER BY seq DESC OFFSET %s)",
                (self.keep,),
            )
        return self.status(order.job_id)

    def check_room(self) -> None:
        """BusyError now if a new job would be refused, so callers can say so before preparing one."""
        with self._db.transaction() as db:
            self._check_room(self._live(db))

    def status(self, job_id: str) -> JobInfo:
        """A job's record, from whichever replica or worker wrote it; InvalidInputError if none."""
        with self._db.transaction() as db:
            row = db.execute(
                "SELECT seq, owner, info, task_id FROM genai_mcp_jobs WHERE job_id = %s", (job_id,)
            ).fetchone()
            if row is None:
                raise InvalidInputError(
                    f"no job {job_id[:80]!r} in the job database; list the jobs to see all that are remembered"
                )
            (info,) = self._settled(db, [row])
            if info.state == "queued":
                (ahead,) = db.execute(
                    "SELECT count(*) FROM genai_mcp_jobs WHERE info->>'state' = 'running' "
                    "OR (info->>'state' = 'queued' AND seq < %s)",
                    (row[0],),
                ).fetchone() or (0,)
                info = info.model_copy(update={"queue_position": int(ahead)})
        return info

    def list(self) -> builtins.list[JobInfo]:
        """Every remembered job, newest first, whoever accepted or ran it."""
        with self._db.transaction() as db:
            rows = db.execute(
                "SELECT seq, owner, info, task_id FROM genai_mcp_jobs ORDER BY seq DESC"
            ).fetchall()
            jobs = self._settled(db, rows)
        waiting = [j for j in jobs if j.state == "queued"][::-1]  # oldest first
        running = sum(j.state == "running" for j in jobs)
        position = {j.job_id: running + i for i, j in enumerate(waiting)}
        return [j.model_copy(update={"queue_position": position.get(j.job_id)}) for j in jobs]

    def cancel(self, job_id: str) -> JobInfo:
        """Stop a job: a queued one at once (it never runs), a running one at its worker's next step."""
        with self._db.transaction() as db:
            row = db.execute(
                "SELECT seq, owner, info, task_id FROM genai_mcp_jobs WHERE job_id = %s FOR UPDATE",
                (job_id,),
            ).fetchone()
            if row is None:
                return self.status(job_id)  # says there is no such job
            (info,) = self._settled(db, [row])
            task_id = row[3]
            manager = self._app.job_manager
            if (
                info.state == "queued"
                and task_id is not None
                and manager.cancel_job_by_id(task_id, connection=db)
            ):
                info = info.model_copy(
                    update={
                        "state": "cancelled",
                        "error": "cancelled before it started",
                        "finished": utc_now(),
                    }
                )
                db.execute(
                    "UPDATE genai_mcp_jobs SET info = %s::jsonb WHERE job_id = %s",
                    (info.model_dump_json(), job_id),
                )
            elif info.state in ("queued", "running"):
                # A worker has fetched it (or is about to): it sees the flag when it claims the record
                # or next saves it, and procrastinate's abort request (notified) at its next step.
                db.execute("UPDATE genai_mcp_jobs SET cancel_requested = TRUE WHERE job_id = %s", (job_id,))
                if task_id is not None:
                    manager.cancel_job_by_id(task_id, abort=True, connection=db)
        return self.status(job_id)

    def wait(self, job_id: str, timeout: float, *, past_step: int | None = None) -> JobInfo:
        """Re-read the record until the job is final (or, with `past_step`, beyond it), or `timeout` s."""
        deadline = time.monotonic() + timeout
        info = self.status(job_id)
        while info.state not in _FINAL and (past_step is None or info.step <= past_step):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(_POLL_S, left))
            info = self.status(job_id)
        return info

    def close(self, timeout: float = 5.0) -> None:
        """Refuse new jobs from this replica; queued and running ones stay with the workers. The
        pooled connections are closed (a later call opens a new pool)."""
        self._closed.set()
        self._db.close(timeout)

    def open(self) -> None:
        self._closed.clear()

    # -- helpers ---------------------------------------------------------------------------------

    def _live(self, db: psycopg.Connection[Any]) -> builtins.list[JobInfo]:
        rows = db.execute(
            f"SELECT seq, owner, info, task_id FROM genai_mcp_jobs WHERE {_LIVE} ORDER BY seq"
        ).fetchall()
        return [j for j in self._settled(db, rows) if j.state in ("queued", "running")]

    def _check_room(self, live: builtins.list[JobInfo]) -> None:
        if self._closed.is_set():
            raise BusyError("the server is shutting down; no new fine-tuning jobs are accepted")
        running = [j for j in live if j.state == "running"]
        waiting = len(live) - len(running)
        max_queued = self.limits.max_queued
        # As in one process: while a job runs, max_queued may wait; with none running, one more may
        # wait for a worker to fetch it.
        if waiting >= max_queued + (0 if running else 1):
            busy = f"job {running[0].job_id} (adapter {running[0].adapter!r}) is training" if running else ""
            raise BusyError(
                f"busy: {busy or 'no job is training yet'} and {waiting} waiting; {max_queued} job(s) may "
                "wait. Try again when one finishes (poll its status), or cancel one.",
                setting="lora.max_queued",
            )

    @staticmethod
    def _settled(db: psycopg.Connection[Any], rows: builtins.list[Any]) -> builtins.list[JobInfo]:
        """The records of `rows` (seq, owner, info, task_id), marked failed for good (in this
        transaction) where their worker is gone: a running one whose owner's advisory lock is free
        (its session has ended), a queued one that procrastinate handed to a worker that stopped
        heartbeating before it claimed the record, or that procrastinate is done with (workers delete
        a job once done; a queued record's job is in the same transaction, so it existed)."""
        queued = [r[3] for r in rows if r[3] is not None and r[2]["state"] == "queued"]
        stranded = set()
        if queued:
            found = db.execute(
                "SELECT t.id FROM unnest(%s::bigint[]) AS t(id) LEFT JOIN procrastinate_jobs j ON j.id = t.id "
                "LEFT JOIN procrastinate_workers w ON w.id = j.worker_id WHERE j.id IS NULL OR j.status IN "
                "('succeeded', 'failed', 'aborted') OR (j.status = 'doing' AND (w.id IS NULL OR "
                "w.last_heartbeat < now() - make_interval(secs => %s)))",
                (queued, _STALLED_S),
            ).fetchall()
            stranded = {task_id for (task_id,) in found}
        jobs = []
        for _seq, owner, raw, task_id in rows:
            info = JobInfo.model_validate(raw)
            gone = task_id in stranded
            if info.state == "running" and owner != QUEUED_OWNER:
                (gone,) = db.execute(
                    "SELECT pg_try_advisory_xact_lock(%s)", (lock_key(owner),)
                ).fetchone() or (False,)
            if gone:
                # A worker may have moved the record on since it was read: then what it wrote holds.
                now = db.execute(
                    "UPDATE genai_mcp_jobs SET info = CASE WHEN owner = %s AND info->>'state' = %s "
                    "THEN %s::jsonb ELSE info END WHERE job_id = %s RETURNING info",
                    (owner, raw["state"], lost(info).model_dump_json(), info.job_id),
                ).fetchone()
                info = JobInfo.model_validate(now[0]) if now else info
            jobs.append(info)
        return jobs


def _never_here(order: dict[str, Any]) -> None:
    # The replica's App only defers and cancels; workers register the real task (worker_pg.py).
    raise RuntimeError("fine-tuning jobs run on workers (genai-mcp worker), not in the queue's App")
