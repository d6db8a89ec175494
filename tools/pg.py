"""Pooled connections to the project's PostgreSQL (the database setting): one way for every store.

The job queue (lora/queue_pg.py) reads a waiting job five times a second and a RAG search makes
three or four reads; a new connection is a new PostgreSQL backend process (about 4 ms on
loopback, more than the query), so each part keeps a small pool per process (psycopg_pool):

- `read(run)`: `run(connection)` on an autocommit connection, one round trip per statement (each
  statement sees one commit); a read whose statements must see the same commit opens
  `db.transaction()` on it, which is read-only REPEATABLE READ there.
- `transaction()`: a write transaction, committed when the block ends, rolled back if it raises
  (or when the process dies before COMMIT).

A pooled connection is checked when taken, so one the server closed meanwhile (a restart, an idle
timeout) is replaced. `schema` (statements that are IF NOT EXISTS) runs once per process before
the first use, under an advisory lock: CREATE ... IF NOT EXISTS from two replicas at once can
still collide. Pools open on first use and close with close() (a later call opens new ones).
Connections carry `application_name`, so each part shows as itself in pg_stat_activity.

Needs psycopg and psycopg_pool (`pip install 'genai-mcp[postgres]'`), imported on first use.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import psycopg
    import psycopg_pool

__all__ = ["Database"]

_T = TypeVar("_T")
_SCHEMA_LOCK = 0x67656E6169726167  # "genairag": taken while a part creates its tables


class Database:
    """One part's connections to the database at `url` (at most `size` of each kind at once)."""

    def __init__(self, url: str, *, application_name: str, schema: str | None = None, size: int = 4) -> None:
        self.url = url
        self.application_name = application_name
        self._schema = schema
        self._size = size
        self._pools: dict[bool, psycopg_pool.ConnectionPool[Any]] = {}  # reading -> its pool
        self._lock = threading.Lock()

    def read(self, run: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        """What `run(connection)` returns, run on a pooled autocommit read-only connection."""
        with self._pool(reading=True).connection() as db:
            return run(db)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """One write transaction on a pooled connection: committed at the end, rolled back on an error."""
        with self._pool(reading=False).connection() as db:  # the pool commits or rolls back
            yield db

    def close(self, timeout: float = 5.0) -> None:
        """Close the pools and their connections (a later call opens new ones)."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close(timeout)

    def __del__(self) -> None:
        # An unclosed pool's connections would outlive the store (and warn when collected).
        with contextlib.suppress(Exception):
            self.close()

    def _pool(self, *, reading: bool) -> psycopg_pool.ConnectionPool[Any]:
        with self._lock:
            pool = self._pools.get(reading)
            if pool is None:
                pool = self._pools[reading] = self._open(reading)
            return pool

    def _open(self, reading: bool) -> psycopg_pool.ConnectionPool[Any]:
        import psycopg
        from psycopg_pool import ConnectionPool

        if self._schema is not None:
            with psycopg.connect(self.url, connect_timeout=10) as db, db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                db.execute(self._schema)
            self._schema = None  # once per process

        def configure(db: psycopg.Connection[Any]) -> None:
            if reading:  # for the reads that open a transaction()
                db.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
                db.read_only = True

        kwargs = {"autocommit": reading, "application_name": self.application_name, "connect_timeout": 10}
        pool: ConnectionPool[Any] = ConnectionPool(
            self.url,
            min_size=1,
            max_size=self._size,
            kwargs=kwargs,
            configure=configure,
            check=ConnectionPool.check_connection,
            name=f"{self.application_name}-{'read' if reading else 'write'}",
            open=False,
        )
        try:
            pool.open(wait=True, timeout=15)  # a database that cannot be reached fails here, not later
        except BaseException:
            pool.close()  # no threads left retrying in the background
            raise
        return pool
