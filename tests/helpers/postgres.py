"""A real PostgreSQL for tests: the one deploy/ starts (deploy/postgres.py)."""

from __future__ import annotations

from deploy.postgres import PG_BIN, running_postgres

__all__ = ["PG_BIN", "running_postgres"]
