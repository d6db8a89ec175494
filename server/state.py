"""What one server owns: its settings, the model runtime (cache, forward batcher), the stores, the jobs.

Built from settings without touching disk or starting threads, so creating a server is cheap and
two servers in one process (tests, benchmarks) share nothing. `running()` is the server's
lifespan: start-up clean-up and a check of the operator's default models (one warning line naming
those that cannot be used; the server serves the rest) when the first session opens, and on the
last one closing, training stops at its next step (no half-written adapter is left). In memory a
lifespan runs per Client, over stdio and HTTP once per process; it is reference-counted so either
way works.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio.to_thread

from genai_mcp.server.limits import VARIABLES, build_limits, chosen_defaults, live_values
from genai_mcp.server.settings import ServerSettings, SettingsError
from genai_mcp.tools.errors import GenAIError
from genai_mcp.tools.images import ImageLimits, ImagePolicy
from genai_mcp.tools.lora.jobs import JobLimits, JobManager
from genai_mcp.tools.lora.records import JobRecords
from genai_mcp.tools.lora.store import AdapterStore
from genai_mcp.tools.models import TASKS, ModelCache
from genai_mcp.tools.models.batching import ForwardBatcher
from genai_mcp.tools.models.defaults import DEFAULT_MODEL_KEYS
from genai_mcp.tools.outputs import OutputLimits, OutputStore
from genai_mcp.tools.rag.collections import CollectionStore
from genai_mcp.tools.rag.store import RagStore

if TYPE_CHECKING:
    from genai_mcp.tools.lora.queue_pg import PgJobQueue
    from genai_mcp.tools.lora.worker_pg import PgJobWorker

__all__ = ["OUTPUT_URI_PREFIX", "ServerState"]

logger = logging.getLogger(__name__)

OUTPUT_URI_PREFIX = "genai-mcp://outputs/"
ADAPTER_URI_PREFIX = "adapters://"


def rag_store(settings: ServerSettings) -> CollectionStore:
    """The RAG collections: in PostgreSQL when GENAI_MCP_DATABASE_URL is set (shared by replicas),
    else under the data dir."""
    if settings.database_url is None:
        return RagStore(settings.rag_dir)
    try:
        from genai_mcp.tools.rag.store_pg import PgRagStore

        store = PgRagStore(settings.database_url.get_secret_value())
        store.names()  # connects and creates the tables
    except ImportError:
        raise SettingsError(
            "GENAI_MCP_DATABASE_URL is set but psycopg is not installed: pip install 'genai-mcp[postgres]'"
        ) from None
    except Exception as exc:  # psycopg.Error and its kin: the message names no password
        raise SettingsError(
            "cannot keep RAG collections in the database at GENAI_MCP_DATABASE_URL: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    return store


@dataclass
class ServerState:
    settings: ServerSettings
    models: ModelCache
    outputs: OutputStore
    adapters: AdapterStore
    rag: CollectionStore
    jobs: JobManager | PgJobQueue  # PgJobQueue with GENAI_MCP_DATABASE_URL (server/job_queue.py)
    images: ImagePolicy
    batcher: ForwardBatcher  # shares forward passes between concurrent calls on the same model
    limits: dict[str, object] = field(default_factory=dict)  # setting key -> live value
    # task -> why its chosen default model cannot be used, found by the start-up check
    default_problems: dict[str, str] = field(default_factory=dict)
    worker: PgJobWorker | None = None  # with a database and GENAI_MCP_JOB_WORKER: trains queued jobs
    _sessions: int = 0

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> ServerState:
        models = ModelCache(
            max_models=settings.cache_max_models,
            max_bytes=settings.cache_max_bytes,
            allow_downloads=settings.allow_downloads,
            device=settings.device,
            defaults=chosen_defaults(settings),
            freeze_gc=settings.gc_freeze,  # no full-heap gc pauses on the serving path
        )
        outputs = OutputStore(
            settings.outputs_dir,
            uri_prefix=OUTPUT_URI_PREFIX,
            limits=build_limits(OutputLimits, settings),
        )

        def read_output(uri: str) -> bytes:
            return outputs.read(outputs.name_from_uri(uri))

        images = ImagePolicy(
            limits=build_limits(ImageLimits, settings),
            roots=tuple(settings.roots),
            allow_url_fetch=settings.allow_url_fetch,
            resolve_output=read_output,
        )
        adapters = AdapterStore(settings.adapters_dir, uri_prefix=ADAPTER_URI_PREFIX)
        jobs: JobManager | PgJobQueue
        worker = None
        if settings.database_url is None:
            records = JobRecords(settings.jobs_file)  # SQLite under the data dir: replicas on one machine
            jobs = JobManager(
                limits=build_limits(JobLimits, settings), keep=settings.lora_jobs_kept, records=records
            )
        else:
            from genai_mcp.server import job_queue

            jobs = job_queue.build_queue(settings)
            if settings.job_worker:
                worker = job_queue.build_worker(
                    settings, models=models, images=images, adapters=adapters, name=f"replica-{os.getpid()}"
                )
        return cls(
            settings=settings,
            models=models,
            outputs=outputs,
            adapters=adapters,
            rag=rag_store(settings),  # after the jobs: an unusable database is reported as theirs first
            jobs=jobs,
            worker=worker,
            images=images,
            batcher=ForwardBatcher(window_s=settings.batch_window_ms / 1000, max_batch=settings.batch_max),
            limits=live_values(settings),
        )

    @property
    def default_models(self) -> dict[str, str | None]:
        """{task: the model calls that name none get (None: none, the reranker's default)}: the
        operator's choices, else the built-in defaults. Tasks: tools.models.defaults.DEFAULT_MODEL_KEYS."""
        return self.models.defaults_in_force()

    def check_default_models(self) -> dict[str, str]:
        """{task: why its chosen default cannot be used} for the operator's choices, read from their
        files (no weights are loaded; hub ids only from the local cache). Blocking: run it in a thread."""
        from genai_mcp.tools.rag import embed, rerank

        checks: dict[str, Callable[[], None]] = {
            embed.TASK: lambda: embed.check_default(self.models),
            rerank.TASK: lambda: rerank.check_default(self.models),
        }
        problems = {}
        for task in self.models.defaults:
            try:
                if task in TASKS:
                    self.models.check_default(task)
                else:
                    checks[task]()
            except GenAIError as exc:  # a chosen default's error wraps what is wrong with it
                problems[task] = " ".join(str(exc.__cause__ or exc).split())
        return problems

    @asynccontextmanager
    async def running(self) -> AsyncIterator[ServerState]:
        """The lifespan: clean up after a killed process and check the default models on the way in,
        stop training on the way out."""
        self._sessions += 1
        if self._sessions == 1:
            self.jobs.open()
            # What a killed process left behind (a hidden temp folder, never an adapter).
            removed = await anyio.to_thread.run_sync(self.adapters.clean_stale)
            if removed:
                logger.info("removed %d stale adapter temp folder(s)", removed)
            if self.worker is not None:
                self.worker.start()  # a thread and event loop of its own, never this one
            if self.models.defaults:
                self.default_problems = await anyio.to_thread.run_sync(self.check_default_models)
                if self.default_problems:
                    logger.warning("%s", _unavailable_defaults(self.models.defaults, self.default_problems))
        try:
            yield self
        finally:
            self._sessions -= 1
            if self._sessions == 0:
                await anyio.to_thread.run_sync(self.jobs.close)
                if self.worker is not None:
                    await anyio.to_thread.run_sync(self.worker.stop)
                self.rag.close()  # the database connections kept for reads, if any


def _unavailable_defaults(chosen: dict[str, str], problems: dict[str, str]) -> str:
    """One line for the start-up log: which chosen defaults cannot be used, and why."""
    # e.g. GENAI_MCP_TEXT_MODEL='org/lm': 'org/lm' is not in the local Hugging Face cache and ...
    each = "; ".join(
        f"{VARIABLES[DEFAULT_MODEL_KEYS[task]]}={chosen[task]!r}: {why}" for task, why in problems.items()
    )
    return (
        f"default model(s) unavailable, the tools that use them will fail until fixed (the rest are "
        f"served): {each}"
    )
