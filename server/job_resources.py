"""Fine-tuning jobs as MCP resources: jobs://list and jobs://{job_id} (what job_status answers).

Jobs run in this server process (ServerState.jobs); their records outlive a restart (tools/lora/records.py).
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError

from genai_mcp.server.state import ServerState
from genai_mcp.tools.errors import GenAIError

__all__ = ["JOB_URI_PREFIX", "register"]

JOB_URI_PREFIX = "jobs://"


def register(server: MCPServer[Any], state: ServerState) -> None:
    jobs = state.jobs

    @server.resource(
        "jobs://list",
        name="jobs",
        title="Fine-tuning jobs",
        description="Every remembered job, newest first (all replicas' with shared records): state, step, loss, metrics.",
        mime_type="application/json",
    )
    def jobs_list() -> str:
        listed = [{**job.model_dump(mode="json"), "uri": JOB_URI_PREFIX + job.job_id} for job in jobs.list()]
        return json.dumps({"jobs": listed}, indent=2)

    @server.resource(
        "jobs://{job_id}",
        name="job",
        title="One fine-tuning job",
        description="A job's status as job_status reports it (state, step, loss curve, result) as JSON.",
        mime_type="application/json",
    )
    def job(job_id: str) -> str:
        try:
            return jobs.status(job_id).model_dump_json(indent=2)
        except GenAIError as exc:
            raise ResourceNotFoundError(str(exc)) from None
