"""PostgreSQL (Debian's postgresql-15) as an ordinary process: initdb and pg_ctl on a free loopback port.

The server runs as the `postgres` user when started by root (initdb refuses root), in a folder of
its own under /tmp that it owns (a pytest or work folder may not be reachable by that user). Used
by deploy/run.py (`--postgres`) and by the tests (tests/helpers/postgres.py re-exports it). It is
stopped with `-m immediate`: a deployment on loopback keeps nothing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["PG_BIN", "running_postgres"]

PG_BIN = Path("/usr/lib/postgresql/15/bin")


@contextmanager
def running_postgres() -> Iterator[str]:
    """A fresh cluster's URL (postgresql://postgres@127.0.0.1:PORT/postgres) while the block runs;
    RuntimeError with how to install PostgreSQL when it is missing."""
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError(
            "PostgreSQL 15 is not installed: apt-get install -y --no-install-recommends postgresql-15"
        )
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="genai-pg-"))
    data, sockets = base / "data", base / "sockets"
    sockets.mkdir()
    if as_postgres:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    try:
        subprocess.run(
            [
                *as_postgres,
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [
                *as_postgres,
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(base / "log"),
                "-w",
                "start",
            ],
            check=True,
            capture_output=True,
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)
