"""Connections to the collections' database: one per call, the read ones kept for the next read.

A search calls the store three or four times (state, dense and/or keyword, chunks); a new
connection costs about 4 ms on loopback, more than the search itself, so a few idle read
connections are kept. They are in autocommit mode: a read of one statement costs one round trip
(each statement sees one commit); a read whose statements must see the same commit opens
`db.transaction()`, which is read-only REPEATABLE READ there. A kept connection that the server
has closed meanwhile (a restart, an idle timeout) is replaced once; reads are safe to repeat.
Writes take a connection of their own, closed when they end.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import psycopg

__all__ = ["PgConnections"]

_T = TypeVar("_T")
_IDLE_KEPT = 4
_SCHEMA_LOCK = 0x67656E6169726167  # concurrent CREATE ... IF NOT EXISTS can still collide without it


class PgConnections:
    """Connections to `url` whose first use creates `schema` (statements that are IF NOT EXISTS)."""

    def __init__(self, url: str, schema: str) -> None:
        self.url = url
        self._schema = schema
        self._schema_ready = False
        self._idle: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the idle connections (new ones are opened as needed)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for db in idle:
            db.close()

    def read(self, run: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        """What `run(connection)` returns, run on a kept or a new read connection."""
        import psycopg

        with self._lock:
            kept = self._idle.pop() if self._idle else None
        if kept is not None:
            try:
                return self._read_on(kept, run)
            except psycopg.OperationalError:
                self.close()  # its companions are likely gone too
        return self._read_on(self._connect(reading=True), run)

    @contextlib.contextmanager
    def write(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction: committed when the block ends, rolled back if it raises (or the process dies)."""
        with self._connect(reading=False) as db:  # psycopg commits on a clean exit, else rolls back
            yield db

    def _read_on(self, db: psycopg.Connection[Any], run: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        import psycopg

        try:
            return run(db)
        finally:
            healthy = not db.closed and db.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            with self._lock:
                keep = healthy and len(self._idle) < _IDLE_KEPT
                if keep:
                    self._idle.append(db)
            if not keep:
                db.close()

    def _connect(self, *, reading: bool) -> psycopg.Connection[Any]:
        import psycopg

        db = psycopg.connect(self.url, autocommit=reading, connect_timeout=10)
        if not self._schema_ready:
            with db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                db.execute(self._schema)
            self._schema_ready = True
        if reading:  # for the reads that open a transaction()
            db.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            db.read_only = True
        return db
