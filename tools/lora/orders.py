"""A training order: what a worker process needs to run a confirmed fine-tuning job from scratch.

With a job database (queue_pg.py, worker_pg.py) the replica that took the call does not train: it
queues an order, and a worker, in another process or on another machine, prepares the job again
from it and trains. So an order carries the request itself (data inline, or paths under the roots
every worker shares) with the adapter name fixed, the steps and learning rate the user confirmed,
and the job id the replicas answer job_status with. The prepared model copy never travels.

    order = TrainingOrder.confirmed(request, plan, steps=, learning_rate=)   a fresh job id
    OrderTrainer(limits, policy, store, models)(order, progress, on_loss) -> LoraResult
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from genai_mcp.tools.lora.schemas import JobInfo, LoraPlan, LoraRequest, LoraResult, LoraTask, utc_now

if TYPE_CHECKING:
    from genai_mcp.tools.images import ImagePolicy
    from genai_mcp.tools.lora.data import LoraLimits
    from genai_mcp.tools.lora.store import AdapterStore
    from genai_mcp.tools.lora.train import LossHook
    from genai_mcp.tools.models import ModelCache
    from genai_mcp.tools.progress import Progress

__all__ = ["OrderTrainer", "TrainingOrder"]


class TrainingOrder(BaseModel):
    """One confirmed job as it travels through the task queue (JSON)."""

    job_id: str = Field(default_factory=lambda: "lora-" + secrets.token_hex(4))
    request: LoraRequest = Field(description="The request, its `name` fixed to the planned adapter.")
    adapter: str
    task: LoraTask
    total_steps: int
    steps: int | None = Field(None, description="The confirmed steps, when they differ from the plan.")
    learning_rate: float | None = None
    created: str = Field(
        default_factory=utc_now,
        description="When the job was accepted, ISO 8601 UTC.",
    )

    @classmethod
    def confirmed(
        cls,
        request: LoraRequest,
        plan: LoraPlan,
        *,
        steps: int | None,
        learning_rate: float | None,
    ) -> TrainingOrder:
        # The name is fixed: a worker re-deriving a default name from its own clock would save
        # the adapter under another name than the one the user confirmed.
        named = LoraRequest.model_validate({**request.model_dump(), "name": plan.adapter})
        return cls(
            request=named,
            adapter=plan.adapter,
            task=plan.task,
            total_steps=steps or plan.steps,
            steps=steps,
            learning_rate=learning_rate,
        )

    def queued(self) -> JobInfo:
        """The job's first record."""
        return JobInfo(
            job_id=self.job_id,
            state="queued",
            adapter=self.adapter,
            task=self.task,
            total_steps=self.total_steps,
            created=self.created,
        )


@dataclass(frozen=True)
class OrderTrainer:
    """What a worker trains with: the same limits, roots, adapter store and model cache as a server."""

    limits: LoraLimits
    policy: ImagePolicy
    store: AdapterStore
    models: ModelCache

    def __call__(self, order: TrainingOrder, progress: Progress, on_loss: LossHook) -> LoraResult:
        """Prepare the order's job again (data, model copy; the limits re-checked here) and train it."""
        from genai_mcp.tools.lora.train import prepare, train

        prepared = prepare(
            order.request, limits=self.limits, policy=self.policy, store=self.store, models=self.models
        )
        return train(
            prepared,
            progress,
            store=self.store,
            on_loss=on_loss,
            steps=order.steps,
            learning_rate=order.learning_rate,
        )
