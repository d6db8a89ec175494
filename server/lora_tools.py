"""lora_finetune: confirm a training plan with a person, run it as a job, wait for it a while.

Confirmation (server/lora_confirmation.py): a client that can elicit is always shown the plan; a
client that cannot must pass `confirm=true`, otherwise the tool refuses and says so.

Jobs (tools/lora/jobs.py): training runs on the server's one job thread; with GENAI_MCP_DATABASE_URL
it is queued in PostgreSQL and a worker trains it (tools/lora/queue_pg.py, server/job_queue.py). One
more may wait (GENAI_MCP_LORA_MAX_QUEUED), beyond that a new job gets a "busy" ToolError, said
before anyone is asked to confirm. The call waits up to `wait_seconds` (default GENAI_MCP_LORA_WAIT_SECONDS, below
common client time-outs), reporting progress (step, loss) when asked, then returns the finished
result or the job handle to poll with job_status. Cancelling the call while it waits cancels its
job; after the handle has come back, cancel_job does.

On 2026-07-28 connections the resolvers run again on the round that carries the user's answer, and
the SDK only accepts the answer if the question is worded identically; so the prepared job (its
measured time estimate included) is kept for that round (server/rounds.py).
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any, Literal

import anyio
import anyio.to_thread
from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from genai_mcp.server import apps
from genai_mcp.server.adapters import Resolver, ToolPublisher, ToolSpec
from genai_mcp.server.annotations import WRITES_NEW
from genai_mcp.server.limits import build_limits
from genai_mcp.server.lora_confirmation import NotAsked, answered, can_elicit, confirmation
from genai_mcp.server.rounds import RoundCache
from genai_mcp.server.state import ServerState
from genai_mcp.tools import lora
from genai_mcp.tools.lora.jobs import JobManager
from genai_mcp.tools.lora.orders import TrainingOrder

if TYPE_CHECKING:
    from genai_mcp.tools.lora.queue_pg import PgJobQueue

__all__ = ["FinetuneCall", "FinetuneResult", "register"]

_PLANS_KEPT = 2  # a prepared job holds a model copy and its dataset
_MAX_WAIT_S = 600.0
_CALL_ONLY = {"confirm", "wait_seconds"}

FinetuneStatus = Literal["succeeded", "running", "queued", "cancelled", "declined"]


class FinetuneCall(lora.LoraRequest):
    """lora_finetune's arguments: the training request, and how this call confirms and waits."""

    confirm: bool = Field(
        False,
        description=(
            "Start without a confirmation form. Only for clients that cannot elicit; a client that can "
            "always shows its user the plan first."
        ),
    )
    wait_seconds: float | None = Field(
        None,
        ge=0,
        le=_MAX_WAIT_S,
        description=(
            "How long to wait for the job before returning its handle (default {server.lora_wait_seconds} "
            "s; 0 returns at once). Progress (step, loss) is reported while waiting."
        ),
    )

    def training(self) -> dict[str, Any]:
        """The training request's own fields (what a plan is keyed by)."""
        return self.model_dump(exclude=_CALL_ONLY)


class FinetuneResult(BaseModel):
    status: FinetuneStatus = Field(
        description=(
            "succeeded (adapter saved; see job.result); running / queued (still going: poll job_status with "
            "job.job_id); cancelled (stopped, nothing saved); declined (the user said no; nothing ran)"
        )
    )
    note: str = Field(description="What happened, in words, and what to do next.")
    plan: lora.LoraPlan | None = Field(None, description="What the job does (or would have done).")
    job: lora.JobInfo | None = Field(
        None, description="The job; job.result holds the outcome once it succeeded."
    )


SPEC_TEXT = (
    "Train a LoRA adapter (low-rank update W + (alpha/r)·A·B; the base weights stay frozen) for a causal "
    "LM (task causal-lm, default {models.text}) on texts, or an image classifier (task "
    "image-classification, default {models.classifier}) on labelled images. The user confirms the plan "
    "(trainable parameters, steps, estimated time) first; clients that cannot ask must pass confirm=true. "
    "Jobs train one at a time on each worker (the server's own, or those sharing its job database). "
    "Waits up to wait_seconds, reporting progress, then returns the result (held-out loss and "
    "perplexity/accuracy before and after) or a job handle for job_status. Use the adapter with generate_text(adapter=...) or classify_image(adapter=...)."
)


SPEC = ToolSpec(
    name="lora_finetune",
    title="Fine-tune a model with LoRA",
    description=SPEC_TEXT,
    request=FinetuneCall,
    result=FinetuneResult,
    annotations=WRITES_NEW,
    view=apps.TRAINING,
)


def register(tools: ToolPublisher, state: ServerState) -> None:
    call = _Finetune(state)
    resolvers = [
        Resolver("prepared", call.prepared),
        Resolver("confirmed", call.confirmed, needs=("prepared",), outcome=True),
    ]
    # A base model named by a hub id may be fetched when the operator allows downloads.
    tools.add_resolving(SPEC.opening(state.settings.allow_downloads), call.run, resolvers)


class _Finetune:
    """The resolvers and the body of one server's lora_finetune."""

    def __init__(self, state: ServerState) -> None:
        from genai_mcp.tools.lora.data import LoraLimits

        self.state = state
        self.limits = build_limits(LoraLimits, state.settings, roots=tuple(state.settings.roots))
        self.plans: RoundCache[Any] = RoundCache(ttl_s=900.0, size=_PLANS_KEPT)

    def prepared(self, request: FinetuneCall, ctx: Context[Any]) -> Any:
        """The prepared job (plan, data, model copy): shared by the confirmation and the body of one
        round, and kept for the retry round. None when nobody can confirm it."""
        if not request.confirm and not can_elicit(ctx):
            return None  # the body refuses: no confirmation is possible
        self.state.jobs.check_room()  # say "busy" before anyone is asked to confirm a job that cannot start
        from genai_mcp.tools.lora.train import prepare

        def plan() -> Any:
            state = self.state
            return prepare(
                request, limits=self.limits, policy=state.images, store=state.adapters, models=state.models
            )

        return self.plans.get_or_compute(request.training(), plan, retry=ctx.request_state is not None)

    def confirmed(self, request: FinetuneCall, ctx: Context[Any], prepared: Any) -> Elicit[Any] | NotAsked:
        if prepared is None or not can_elicit(ctx):
            return NotAsked()
        return confirmation(prepared.plan, self.state.settings.lora_max_steps)

    async def run(
        self, request: FinetuneCall, ctx: Context[Any], prepared: Any, confirmed: ElicitationResult[Any]
    ) -> FinetuneResult:
        store, jobs = self.state.adapters, self.state.jobs
        if prepared is not None:
            self.plans.pop(request.training())  # this call consumes it, whatever the answer
        if not isinstance(confirmed, AcceptedElicitation):
            said = "declined" if confirmed.action == "decline" else "dismissed"
            note = f"The user {said} the confirmation: nothing was trained and no adapter was written."
            return FinetuneResult(status="declined", note=note, plan=prepared.plan)
        if prepared is None:
            raise ToolError(
                "lora_finetune needs a confirmation: this client cannot show one (it does not support "
                "form elicitation), so pass confirm=true to start training. It trains for minutes and "
                f"writes a new adapter under {store.root}."
            )
        steps, learning_rate = answered(confirmed.data)
        plan = prepared.plan

        def train(progress: Any, on_loss: Any) -> lora.LoraResult:
            from genai_mcp.tools.lora.train import train

            return train(
                prepared, progress, store=store, on_loss=on_loss, steps=steps, learning_rate=learning_rate
            )

        if isinstance(jobs, JobManager):
            info = jobs.submit(train, adapter=plan.adapter, task=plan.task, total_steps=steps or plan.steps)
        else:  # a job database: a worker prepares the job again from the order and trains it
            order = TrainingOrder.confirmed(
                lora.LoraRequest.model_validate(request.training()),
                plan,
                steps=steps,
                learning_rate=learning_rate,
            )
            info = await anyio.to_thread.run_sync(jobs.submit, order)
        wait = self.state.settings.lora_wait_seconds if request.wait_seconds is None else request.wait_seconds
        return _finetune_result(await _wait_for(ctx, jobs, info.job_id, wait), plan, wait)


async def _wait_for(
    ctx: Context[Any], jobs: JobManager | PgJobQueue, job_id: str, wait: float
) -> lora.JobInfo:
    """Wait up to `wait` s for the job, reporting each new step; cancel the job if this call is cancelled."""
    deadline = time.monotonic() + wait
    info = await anyio.to_thread.run_sync(jobs.status, job_id)
    reported = -1
    try:
        while True:
            if info.step != reported and info.step > 0:
                reported = info.step
                loss = f", loss {info.loss:.4f}" if info.loss is not None else ""
                message = f"step {info.step}/{info.total_steps}{loss}"
                await ctx.report_progress(info.step, total=info.total_steps, message=message)
            left = deadline - time.monotonic()
            if info.state in ("succeeded", "failed", "cancelled") or left <= 0:
                return info
            wait_more = functools.partial(jobs.wait, job_id, min(left, 1.0), past_step=info.step)
            info = await anyio.to_thread.run_sync(wait_more, abandon_on_cancel=True)
    except anyio.get_cancelled_exc_class():
        jobs.cancel(job_id)
        raise


def _finetune_result(info: lora.JobInfo, plan: lora.LoraPlan, wait: float) -> FinetuneResult:
    if info.state == "failed":
        raise ToolError(f"fine-tuning job {info.job_id} failed: {info.error}")
    if info.state == "succeeded":
        assert info.result is not None
        r = info.result
        note = (
            f"Adapter {r.adapter!r} saved. Held-out {r.eval_metric} {r.metric_before:.4g} -> {r.metric_after:.4g} "
            f"(loss {r.eval_loss_before:.4f} -> {r.eval_loss_after:.4f}) after {r.steps_done} steps in "
            f"{r.seconds:.1f} s."
        )
        return FinetuneResult(status="succeeded", note=note, plan=plan, job=info)
    if info.state == "cancelled":
        note = f"The job was cancelled ({info.error}); no adapter was saved."
        return FinetuneResult(status="cancelled", note=note, plan=plan, job=info)
    where = (
        f"at step {info.step} of {info.total_steps}"
        if info.state == "running"
        else f"queued ({info.queue_position} ahead)"
    )
    note = (
        f"Job {info.job_id} is still {info.state} after {wait:g} s, {where}. Poll job_status(job_id="
        f"{info.job_id!r}); it saves adapter {info.adapter!r} when done. cancel_job stops it."
    )
    return FinetuneResult(status=info.state, note=note, plan=plan, job=info)
