"""LoRA fine-tuning: datasets, training jobs, and the adapters they save.

    prepare(request, ...) -> Prepared     check limits, load data and model, plan (LoraPlan)
    train(prepared, store, ...) -> LoraResult
    JobManager                           runs training in a worker thread, one job at a time
    queue_pg.PgJobQueue / worker_pg.PgJobWorker   the same with a database: queued in PostgreSQL,
                                         trained by procrastinate workers (any replica, any machine)
    AdapterStore                         adapters on disk (atomic saves), listed as MCP resources

A saved adapter is loaded for inference by the model runtime: genai_mcp.tools.models.adapted.load_adapted.
Importing this package imports only pydantic; torch, transformers and peft load on first use.
"""

from __future__ import annotations

from genai_mcp.tools.lora.data import LoraLimits
from genai_mcp.tools.lora.schemas import (
    ADAPTER_NAME_PATTERN,
    AdapterInfo,
    AdapterName,
    JobInfo,
    JobState,
    LabelledImage,
    LoraPlan,
    LoraRequest,
    LoraResult,
    LoraTask,
    LossPoint,
)
from genai_mcp.tools.lora.store import AdapterStore

__all__ = [
    "ADAPTER_NAME_PATTERN",
    "AdapterInfo",
    "AdapterName",
    "AdapterStore",
    "JobInfo",
    "JobState",
    "LabelledImage",
    "LoraLimits",
    "LoraPlan",
    "LoraRequest",
    "LoraResult",
    "LoraTask",
    "LossPoint",
]
