"""Fine-tuning job records that outlive the process: one SQLite file under the data directory.

The job manager (jobs.py) writes a job's record at each change of state (queued, running, and its
end) and reads them back when the next process starts. A record left queued or running was cut
off by a crash or a kill: it comes back failed, saying so. Nothing of its adapter was kept, since
the adapter store writes a new adapter to a temporary folder and renames it into place only once
it is complete (store.py), and drops leftover temporary folders when it opens.

Several servers may share a data directory (replicas on one machine's volume). Each record names the
server that owns it, and each server holds an exclusive lock (flock) on a file of its own for as long
as it lives, so a starting server tells a dead owner (its lock is free) from a live one: it takes over
the dead owner's records and leaves the live ones' alone. Any server reads any record (job_status and
list_jobs through another replica), and asks for a job's cancellation by flagging its record: the
owner sees the flag when it next writes the job's progress (save() returns it) and stops the job.
SQLite's locking needs one machine's filesystem: replicas on several machines use PostgreSQL, where
workers train the jobs instead of the replica that took them (queue_pg.py, worker_pg.py).

SQLite because it is in the standard library and commits atomically with a journal: a process
killed mid-write leaves the previous record, never half of one. Each write opens its own
connection, so any thread may write, and commits with synchronous=FULL.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import sqlite3
from contextlib import closing
from pathlib import Path

from genai_mcp.tools.lora.schemas import JobInfo

__all__ = ["INTERRUPTED", "JobRecords", "new_owner", "taken_over"]

INTERRUPTED = (
    "the server stopped while this job was {state} (killed, crashed or restarted); no adapter was "
    "saved: start it again with lora_finetune"
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    info TEXT NOT NULL,
    cancel_requested INTEGER NOT NULL DEFAULT 0
)
"""


def new_owner() -> str:
    """A fresh id for a server's records (random: a restarted server is a new owner)."""
    return secrets.token_hex(8)


def taken_over(info: JobInfo) -> JobInfo:
    """A record of a server that is gone, as the server taking it over keeps it: a job it left
    queued or running can never finish, so it is failed, saying why."""
    if info.state not in ("queued", "running"):
        return info
    error = INTERRUPTED.format(state=info.state)
    return info.model_copy(update={"state": "failed", "error": error, "queue_position": None})


class JobRecords:
    """The job records in `path` (a SQLite file, created with its folder on first use) of one server."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.owner = new_owner()
        self._owners = path.parent / (path.name + ".owners")
        self._lock: int | None = None  # the descriptor whose flock says this owner is alive

    def _connect(self) -> sqlite3.Connection:
        self._hold_lock()
        connection = sqlite3.connect(self.path, timeout=10)
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute(_SCHEMA)
        return connection

    def _hold_lock(self) -> None:
        if self._lock is not None:
            return
        self._owners.mkdir(parents=True, exist_ok=True)
        path = self._owners / f"{self.owner}.lock"
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh random name: nobody else holds it
            # A starting peer may have taken the file for a dead owner's between open and flock.
            try:
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        self._lock = fd

    def close(self) -> None:
        """Let go of this owner's lock (its records then pass to the next server that starts)."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __del__(self) -> None:
        self.close()

    def save(self, info: JobInfo) -> bool:
        """Write (or replace) the record of `info.job_id`, owned by this server; whether another
        server has asked for the job's cancellation."""
        with closing(self._connect()) as db, db:
            # An update keeps the row (and its rowid: the submission order restore() reads).
            row = db.execute(
                "INSERT INTO jobs (job_id, owner, info) VALUES (?, ?, ?) "
                "ON CONFLICT (job_id) DO UPDATE SET owner = excluded.owner, info = excluded.info "
                "RETURNING cancel_requested",
                (info.job_id, self.owner, info.model_dump_json()),
            ).fetchone()
        return bool(row and row[0])

    def get(self, job_id: str) -> JobInfo | None:
        """The record of `job_id`, whichever server owns it; None if there is none."""
        if not self.path.exists():
            return None
        with closing(self._connect()) as db:
            row = db.execute("SELECT info FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return None if row is None else JobInfo.model_validate_json(row[0])

    def others(self) -> list[JobInfo]:
        """The records of the other servers that are alive, oldest first."""
        if not self.path.exists():
            return []
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT owner, info FROM jobs WHERE owner != ? ORDER BY rowid", (self.owner,)
            ).fetchall()
        live = {owner for owner in {o for o, _ in rows} if not self._is_gone(owner)}
        return [JobInfo.model_validate_json(text) for owner, text in rows if owner in live]

    def request_cancel(self, job_id: str) -> JobInfo | None:
        """Flag a queued or running job of another server for cancellation; its record, or None."""
        if not self.path.exists():
            return None
        with closing(self._connect()) as db, db:
            db.execute("UPDATE jobs SET cancel_requested = 1 WHERE job_id = ?", (job_id,))
            row = db.execute("SELECT info FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return None if row is None else JobInfo.model_validate_json(row[0])

    def forget(self, job_ids: list[str]) -> None:
        if not job_ids:
            return
        with closing(self._connect()) as db, db:
            db.executemany("DELETE FROM jobs WHERE job_id = ?", [(j,) for j in job_ids])

    def restore(self) -> list[JobInfo]:
        """The records of servers that are gone, now this one's, oldest first; those left queued or
        running are failed (and saved so). Records of servers still running are left to them."""
        if not self.path.exists():
            return []
        with closing(self._connect()) as db:
            rows = db.execute("SELECT owner, info FROM jobs ORDER BY rowid").fetchall()
        dead = {owner for owner in {o for o, _ in rows} if owner != self.owner and self._is_gone(owner)}
        jobs: list[JobInfo] = []
        for owner, text in rows:
            if owner not in dead:
                continue
            info = taken_over(JobInfo.model_validate_json(text))
            self.save(info)  # now this server's
            jobs.append(info)
        # The lock files of every server that is gone, those that never wrote a record included.
        for lock in self._owners.glob("*.lock"):
            if lock.stem != self.owner and self._is_gone(lock.stem):
                lock.unlink(missing_ok=True)
        return jobs

    def _is_gone(self, owner: str) -> bool:
        try:
            fd = os.open(self._owners / f"{owner}.lock", os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        finally:
            os.close(fd)  # closing drops the probe's lock, if it got one
        return True
