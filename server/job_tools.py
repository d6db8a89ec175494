"""MCP tools for fine-tuning jobs and saved adapters: job_status, cancel_job, list_jobs, delete_adapter,
and the adapters as resources (server/lora_resources.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from genai_mcp.server import apps
from genai_mcp.server.adapters import ToolPublisher, ToolSpec
from genai_mcp.server.annotations import PURE, REMOVES
from genai_mcp.server.lora_resources import register_adapter_resources
from genai_mcp.server.state import ServerState
from genai_mcp.tools import lora

__all__ = ["register"]

_CANCEL_WAIT_S = 10.0


class JobIdRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(min_length=1, max_length=100, description="A job id from lora_finetune or list_jobs.")


class NoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobList(BaseModel):
    jobs: list[lora.JobInfo] = Field(description="The remembered jobs, newest first.")


class AdapterNameRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: lora.AdapterName


class Deleted(BaseModel):
    deleted: str


JOB_STATUS = ToolSpec(
    name="job_status",
    title="Status of a fine-tuning job",
    description=(
        "State (queued, running, succeeded, failed, cancelled), step and total, latest loss and the loss "
        "curve, and once done the held-out metric before/after and the full result."
    ),
    request=JobIdRequest,
    result=lora.JobInfo,
    annotations=PURE,
    view=apps.TRAINING,
)
CANCEL_JOB = ToolSpec(
    name="cancel_job",
    title="Cancel a fine-tuning job",
    description=(
        "Stop a job: a queued one at once, a running one within one training step. Nothing is saved for a "
        "cancelled job. Returns its status once stopped (or after 10 s)."
    ),
    request=JobIdRequest,
    result=lora.JobInfo,
    annotations=REMOVES,
    view=apps.TRAINING,
)
LIST_JOBS = ToolSpec(
    name="list_jobs",
    title="List fine-tuning jobs",
    description=(
        "Every remembered fine-tuning job, newest first: this server's, and those of the other replicas "
        "and workers sharing its job records or job database."
    ),
    request=NoRequest,
    result=JobList,
    annotations=PURE,
)
DELETE_ADAPTER = ToolSpec(
    name="delete_adapter",
    title="Delete a LoRA adapter",
    description="Remove a saved adapter (its folder under the adapters directory). Cannot be undone.",
    request=AdapterNameRequest,
    result=Deleted,
    annotations=REMOVES,
)


def register(tools: ToolPublisher, state: ServerState) -> None:
    jobs, store = state.jobs, state.adapters

    def job_status(request: JobIdRequest) -> lora.JobInfo:
        return jobs.status(request.job_id)

    def cancel_job(request: JobIdRequest) -> lora.JobInfo:
        jobs.cancel(request.job_id)
        # A running job stops at its next step; wait for that so the answer says "cancelled".
        return jobs.wait(request.job_id, _CANCEL_WAIT_S)

    def list_jobs(request: NoRequest) -> JobList:
        return JobList(jobs=jobs.list())

    def delete_adapter(request: AdapterNameRequest) -> Deleted:
        store.delete(request.name)
        return Deleted(deleted=request.name)

    tools.add(JOB_STATUS, job_status)
    tools.add(CANCEL_JOB, cancel_job)
    tools.add(LIST_JOBS, list_jobs)
    tools.add(DELETE_ADAPTER, delete_adapter)
    register_adapter_resources(tools.server, store)
