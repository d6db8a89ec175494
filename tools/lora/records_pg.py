"""A worker's hold on the job records in PostgreSQL (table genai_mcp_jobs): its liveness, its writes.

With a database the replicas queue jobs and read their records (queue_pg.py) and the workers own
the records of the jobs they train (worker_pg.py: from its claim on). A worker is alive while it
holds a session-level advisory lock keyed by its owner id on a connection of its own: PostgreSQL
drops the lock when that connection ends, however the process ended (kill, crash, a machine lost),
so no lock file on a shared disk is needed; readers mark a dead worker's running job failed by
testing that lock. A worker writes a job's progress with save_own(), which also says whether a
replica has flagged the job for cancellation. Each write is one transaction on its own short
connection (a few a second at most). Without a database, records.py keeps records in SQLite.

Needs psycopg (`pip install 'genai-mcp[postgres]'`); imported only when a database is configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genai_mcp.tools.lora.records import new_owner
from genai_mcp.tools.lora.schemas import JobInfo

if TYPE_CHECKING:
    import psycopg

__all__ = ["SCHEMA", "WorkerRecords", "lock_key"]

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


class WorkerRecords:
    """One worker's liveness lock and writes to the job records in the database at `url`."""

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
