"""Fine-tuning jobs with GENAI_MCP_DATABASE_URL: the queue a replica submits to, and its worker.

With a database, a replica queues confirmed jobs in PostgreSQL (tools/lora/queue_pg.py) and
procrastinate workers train them (tools/lora/worker_pg.py): one inside each replica unless
GENAI_MCP_JOB_WORKER=false, and any number of `genai-mcp worker` processes (server/worker_cli.py),
all built from the same settings (data dir, roots, models, limits) by `build_worker`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from genai_mcp.server.limits import build_limits
from genai_mcp.server.settings import ServerSettings, SettingsError
from genai_mcp.tools.lora.jobs import JobLimits

if TYPE_CHECKING:
    from genai_mcp.tools.images import ImagePolicy
    from genai_mcp.tools.lora.queue_pg import PgJobQueue
    from genai_mcp.tools.lora.store import AdapterStore
    from genai_mcp.tools.lora.worker_pg import PgJobWorker
    from genai_mcp.tools.models import ModelCache

__all__ = ["build_queue", "build_worker", "database_url"]


def database_url(settings: ServerSettings) -> str:
    if settings.database_url is None:
        raise SettingsError(
            "no job database: set GENAI_MCP_DATABASE_URL=postgresql://user[:password]@host:port/database"
        )
    return settings.database_url.get_secret_value()


def build_queue(settings: ServerSettings) -> PgJobQueue:
    """The job queue in the settings' database, its tables created if missing; SettingsError (no
    password in it) when psycopg/procrastinate are missing or the database cannot be used."""
    url = database_url(settings)
    try:
        from genai_mcp.tools.lora.queue_pg import PgJobQueue, ensure_schema
    except ImportError:
        raise SettingsError(
            "GENAI_MCP_DATABASE_URL is set but psycopg or procrastinate is not installed: "
            "pip install 'genai-mcp[postgres]'"
        ) from None
    try:
        ensure_schema(url)
    except Exception as exc:  # psycopg.Error and its kin: the message names no password
        raise SettingsError(
            f"cannot use the job database at GENAI_MCP_DATABASE_URL: {type(exc).__name__}: {exc}"
        ) from None
    return PgJobQueue(url, limits=build_limits(JobLimits, settings), keep=settings.lora_jobs_kept)


def build_worker(
    settings: ServerSettings, *, models: ModelCache, images: ImagePolicy, adapters: AdapterStore, name: str
) -> PgJobWorker:
    """A worker training with these models, roots (`images`) and adapter store, under the lora limits."""
    from genai_mcp.tools.lora.data import LoraLimits
    from genai_mcp.tools.lora.orders import OrderTrainer
    from genai_mcp.tools.lora.worker_pg import PgJobWorker

    limits = build_limits(LoraLimits, settings, roots=tuple(settings.roots))
    trainer = OrderTrainer(limits=limits, policy=images, store=adapters, models=models)
    return PgJobWorker(database_url(settings), trainer, name=name)
