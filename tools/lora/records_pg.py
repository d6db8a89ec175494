"""Fine-tuning job records in PostgreSQL (table genai_mcp_jobs): what records.py keeps in SQLite.

The same records and the same rules as records.py (the Records protocol): a record names the
process that owns it; any process reads any record and may flag another's job for cancellation,
which its owner sees when it next writes the job's progress (save() returns the flag). An owner
is alive while it holds a session-level advisory lock keyed by its owner id on a connection of
its own: PostgreSQL drops the lock when that connection ends, however the process ended (kill,
crash, a machine lost), so no lock file on a shared disk is needed. Each write is one transaction
on its own short connection. With a database the owners are the workers (worker_pg.py: a job's
record is its worker's from its claim on); the replicas queue and read (queue_pg.py), and mark a
dead worker's running job failed by the same lock test.

Needs psycopg (`pip install 'genai-mcp[postgres]'`); imported only when a database is configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genai_mcp.tools.lora.records import new_owner, taken_over
from genai_mcp.tools.lora.schemas import JobInfo

if TYPE_CHECKING:
    import psycopg

__all__ = ["SCHEMA", "PgJobRecords", "lock_key"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS genai_mcp_jobs (
    seq BIGSERIAL,
    job_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    info JSONB NOT NULL,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE
)
"""


def lock_key(owner: str) -> int:
    return int(owner, 16) & (2**63 - 1)  # advisory locks take a signed 64-bit key


class PgJobRecords:
    """The job records of one server in the database at `url` (postgresql://...)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.owner = new_owner()
        self._alive: psycopg.Connection[Any] | None = None  # holds this owner's advisory lock

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg

        if self._alive is None or self._alive.closed:
            alive = psycopg.connect(self.url, autocommit=True)
            alive.execute(SCHEMA)
            alive.execute("SELECT pg_advisory_lock(%s)", (lock_key(self.owner),))
            self._alive = alive
        return psycopg.connect(self.url)

    def hold(self) -> None:
        """Hold this owner's liveness lock now (a worker, before it claims each job): taken again on
        a new connection if the one holding it was lost (a database restart, a network cut), which
        every other process has read as this owner's death meanwhile."""
        import psycopg

        if self._alive is not None and not self._alive.closed:
            try:
                self._alive.execute("SELECT 1")
            except psycopg.Error:
                self.close()
        self._connect().close()

    def save_own(self, info: JobInfo, *, succeeded: bool = False) -> tuple[bool, bool]:
        """Update the record of a job this owner is running: (written, cancel requested).

        Not written once another process has marked the job failed because this owner looked dead
        (queue_pg.lost: its lock connection was lost while it went on): that verdict stands and
        the job must stop, except for the final record of a job that did succeed, whose adapter
        is saved and complete."""
        with self._connect() as db:
            row = db.execute(
                "UPDATE genai_mcp_jobs SET info = %s::jsonb WHERE job_id = %s AND owner = %s AND "
                "(info->>'state' = 'running' OR (%s AND info->>'state' = 'failed')) RETURNING cancel_requested",
                (info.model_dump_json(), info.job_id, self.owner, succeeded),
            ).fetchone()
        return row is not None, bool(row and row[0])

    def close(self) -> None:
        if self._alive is not None:
            self._alive.close()
            self._alive = None

    def __del__(self) -> None:
        self.close()

    def save(self, info: JobInfo) -> bool:
        with self._connect() as db:
            row = db.execute(
                "INSERT INTO genai_mcp_jobs (job_id, owner, info) VALUES (%s, %s, %s::jsonb) "
                "ON CONFLICT (job_id) DO UPDATE SET owner = excluded.owner, info = excluded.info "
                "RETURNING cancel_requested",
                (info.job_id, self.owner, info.model_dump_json()),
            ).fetchone()
        return bool(row and row[0])

    def get(self, job_id: str) -> JobInfo | None:
        with self._connect() as db:
            row = db.execute("SELECT info FROM genai_mcp_jobs WHERE job_id = %s", (job_id,)).fetchone()
        return None if row is None else JobInfo.model_validate(row[0])

    def others(self) -> list[JobInfo]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT owner, info FROM genai_mcp_jobs WHERE owner != %s ORDER BY seq", (self.owner,)
            ).fetchall()
            live = {o for o in {o for o, _ in rows} if not self._is_gone(db, o)}
        return [JobInfo.model_validate(info) for owner, info in rows if owner in live]

    def request_cancel(self, job_id: str) -> JobInfo | None:
        with self._connect() as db:
            row = db.execute(
                "UPDATE genai_mcp_jobs SET cancel_requested = TRUE WHERE job_id = %s RETURNING info",
                (job_id,),
            ).fetchone()
        return None if row is None else JobInfo.model_validate(row[0])

    def forget(self, job_ids: list[str]) -> None:
        if job_ids:
            with self._connect() as db:
                db.execute("DELETE FROM genai_mcp_jobs WHERE job_id = ANY(%s)", (job_ids,))

    def restore(self) -> list[JobInfo]:
        with self._connect() as db:
            rows = db.execute("SELECT owner, info FROM genai_mcp_jobs ORDER BY seq").fetchall()
            dead = {o for o in {o for o, _ in rows} if o != self.owner and self._is_gone(db, o)}
        jobs: list[JobInfo] = []
        for owner, raw in rows:
            if owner not in dead:
                continue
            info = taken_over(JobInfo.model_validate(raw))
            self.save(info)  # now this server's
            jobs.append(info)
        return jobs

    @staticmethod
    def _is_gone(db: psycopg.Connection[Any], owner: str) -> bool:
        key = lock_key(owner)
        (free,) = db.execute("SELECT pg_try_advisory_xact_lock(%s)", (key,)).fetchone() or (False,)
        return bool(free)  # a transaction-level probe: released when this transaction ends
