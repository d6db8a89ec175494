"""MCP tools for LoRA fine-tuning: lora_finetune, job_status, cancel_job, list_jobs, delete_adapter,
and the adapters as resources (adapters://list, adapters://{name}, adapters://{name}/card).

Confirmation. Training takes minutes and writes to disk, so a person confirms it first:
- a client that can elicit (form elicitation) is always asked, through a `Resolve(...)` parameter
  returning `Elicit(...)` (works in both protocol eras). The form shows the plan (trainable
  parameters and their share, steps, estimated time) and lets the user change the step count and
  learning rate before accepting; declining trains nothing. `confirm` is ignored for such clients:
  an LLM must not be able to skip its user's confirmation.
- a client that cannot elicit must pass `confirm=true`; without it the tool refuses and says so.

Jobs. Training runs on the JobManager's worker thread, one job at a time; one more may wait in the
queue (GENAI_MCP_LORA_MAX_QUEUED), beyond that a new job gets a "busy" ToolError. lora_finetune
waits up to `wait_seconds` (default GENAI_MCP_LORA_WAIT_SECONDS = 20 s, below common client
time-outs), reporting progress (step, loss) when asked, then returns the finished result or the job
handle to poll with job_status. Cancelling the lora_finetune request while it waits cancels its job;
after the handle has come back, cancel_job does.

On 2026-07-28 connections the resolver runs again on the round that carries the user's answer, and
the SDK only accepts the answer if the question is worded identically; so the prepared job (its
measured time estimate included) is kept for that round (server/rounds.py) instead of being
prepared again.
"""

# No `from __future__ import annotations`: the SDK evaluates the tools' annotations at registration.

import atexit
import functools
import inspect
import time
from typing import Annotated, Any, Literal

import anyio
import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.mcpserver import (
    AcceptedElicitation,
    Context,
    Elicit,
    ElicitationResult,
    Resolve,
)
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field, create_model

from genai_mcp.server.adapters import flat_signature, register_model_tool, tool_errors
from genai_mcp.server.lora_resources import register_adapter_resources
from genai_mcp.server.rounds import RoundCache
from genai_mcp.server.services import Services
from genai_mcp.server.vision_tools import image_policy
from genai_mcp.tools import lora
from genai_mcp.tools.lora.jobs import JobManager

__all__ = ["FinetuneResult", "register"]

_PLANS_KEPT = 2  # a prepared job holds a model copy and its dataset
_MAX_WAIT_S = 600.0
_CANCEL_WAIT_S = 10.0

FinetuneStatus = Literal["succeeded", "running", "queued", "cancelled", "declined"]


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


class JobIdRequest(BaseModel):
    job_id: str = Field(min_length=1, max_length=100, description="A job id from lora_finetune or list_jobs.")


class NoRequest(BaseModel):
    pass


class JobList(BaseModel):
    jobs: list[lora.JobInfo] = Field(description="Jobs this server process remembers, newest first.")


class AdapterNameRequest(BaseModel):
    name: lora.AdapterName


class Deleted(BaseModel):
    deleted: str


class _NotAsked(BaseModel):
    """The resolver's answer when the client cannot show a form."""


def _confirmation_form(plan: lora.LoraPlan, max_steps: int) -> type[BaseModel]:
    # Built per plan so the form's defaults are this plan's values; flat primitives only (MCP forms).
    return create_model(
        "LoraConfirmation",
        max_steps=(
            int,
            Field(
                plan.steps,
                ge=1,
                le=max_steps,
                description="Optimizer steps (change to train shorter or longer)",
            ),
        ),
        learning_rate=(float, Field(plan.learning_rate, gt=0, le=1, description="AdamW learning rate")),
    )


def _confirmation_message(plan: lora.LoraPlan) -> str:
    share = f"{plan.trainable_share:.2%}"
    labels = f", classes {', '.join(plan.labels)}" if plan.labels else ""
    return (
        f"Fine-tune {plan.base_model} with LoRA ({plan.task}) and save adapter {plan.adapter!r}?\n"
        f"Trainable: {plan.trainable_params:,} of {plan.total_params:,} parameters ({share}; rank {plan.rank}, "
        f"alpha {plan.alpha:g}, modules {', '.join(plan.target_modules)}).\n"
        f"Data: {plan.train_examples} training and {plan.eval_examples} held-out examples{labels}.\n"
        f"{plan.steps} steps of batch {plan.batch_size} (about {plan.epochs:.3g} epochs) at learning rate "
        f"{plan.learning_rate:g}: about {_duration(plan.estimated_seconds)} on this server."
    )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _can_elicit(ctx: Context[Any]) -> bool:
    # The SDK's own test (form support, or a bare capability from before modes existed).
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def register(server: MCPServer[Any], services: Services) -> None:
    from genai_mcp.tools.lora.data import LoraLimits

    s = services.settings
    store = services.adapters
    limits = LoraLimits(
        max_examples=s.lora_max_examples,
        max_text_chars=s.lora_max_text_chars,
        max_steps=s.lora_max_steps,
        max_rank=s.lora_max_rank,
        max_batch_size=s.lora_max_batch_size,
        roots=tuple(s.roots),
    )
    policy = image_policy(services)
    jobs = JobManager(
        max_queued=s.lora_max_queued, keep=s.lora_jobs_kept, queue_setting="GENAI_MCP_LORA_MAX_QUEUED"
    )
    # Stop training at the next step when the process exits, so no half-written adapter is left;
    # what a killed process left behind (a hidden temp folder, never an adapter) goes at start-up.
    atexit.register(jobs.close)
    store.clean_stale()

    def prepare(request: lora.LoraRequest) -> Any:
        from genai_mcp.tools.lora.train import prepare as prepare_job

        return prepare_job(request, limits=limits, policy=policy, store=store)

    plans: RoundCache[Any] = RoundCache(ttl_s=900.0, size=_PLANS_KEPT)
    request_fields = list(lora.LoraRequest.model_fields)

    def prepared_for(ctx: Context[Any], **args: Any) -> Any:
        # A resolver (worker thread, the tool's arguments by name). Its result is shared by the
        # confirmation resolver and the tool body of the same round, and kept for the retry round.
        if not args["confirm"] and not _can_elicit(ctx):
            return None  # the body refuses: no confirmation is possible
        with tool_errors():
            jobs.check_room()  # say "busy" before anyone is asked to confirm a job that cannot start
            request = lora.LoraRequest(**{k: args[k] for k in request_fields})
            return plans.get_or_compute(
                request.model_dump(), lambda: prepare(request), retry=ctx.request_state is not None
            )

    def confirmation_for(prepared: Annotated[Any, Resolve(prepared_for)], ctx: Context[Any]) -> Any:
        if prepared is None or not _can_elicit(ctx):
            return _NotAsked()
        return Elicit(
            _confirmation_message(prepared.plan), _confirmation_form(prepared.plan, s.lora_max_steps)
        )

    async def lora_finetune(
        ctx: Context[Any],
        prepared: Any,
        confirmation: ElicitationResult[Any],
        confirm: bool,
        wait_seconds: float | None,
        **args: Any,
    ) -> FinetuneResult:
        if prepared is not None:
            plans.pop(prepared.request.model_dump())  # this call consumes it, whatever the answer
        if not isinstance(confirmation, AcceptedElicitation):
            said = "declined" if confirmation.action == "decline" else "dismissed"
            return FinetuneResult(
                status="declined",
                note=f"The user {said} the confirmation: nothing was trained and no adapter was written.",
                plan=prepared.plan,
            )
        if prepared is None:
            raise ToolError(
                "lora_finetune needs a confirmation: this client cannot show one (it does not support "
                "form elicitation), so pass confirm=true to start training. It trains for minutes and "
                f"writes a new adapter under {store.root}."
            )
        steps: int | None = None
        learning_rate: float | None = None
        if not isinstance(confirmation.data, _NotAsked):
            steps, learning_rate = confirmation.data.max_steps, confirmation.data.learning_rate
        plan = prepared.plan
        with tool_errors():
            run = functools.partial(_run, prepared, store, steps, learning_rate)
            info = jobs.submit(run, adapter=plan.adapter, task=plan.task, total_steps=steps or plan.steps)
        wait = s.lora_wait_seconds if wait_seconds is None else wait_seconds
        info = await _wait_for(ctx, jobs, info.job_id, wait)
        return _finetune_result(info, plan, wait)

    flat = flat_signature(lora.LoraRequest, FinetuneResult)
    extra = [
        inspect.Parameter(
            "confirm",
            inspect.Parameter.KEYWORD_ONLY,
            default=False,
            annotation=_annotated(
                bool,
                Field(
                    description=(
                        "Start without a confirmation form. Only for clients that cannot elicit; a client that "
                        "can always shows its user the plan first."
                    )
                ),
            ),
        ),
        inspect.Parameter(
            "wait_seconds",
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=_annotated(
                float | None,
                Field(
                    ge=0,
                    le=_MAX_WAIT_S,
                    description=(
                        f"How long to wait for the job before returning its handle (default {s.lora_wait_seconds:g} "
                        "s; 0 returns at once). Progress (step, loss) is reported while waiting."
                    ),
                ),
            ),
        ),
    ]
    context = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context)
    prepared = inspect.Parameter(
        "prepared", inspect.Parameter.KEYWORD_ONLY, annotation=_annotated(Any, Resolve(prepared_for))
    )
    confirmation = inspect.Parameter(
        "confirmation",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=_annotated(ElicitationResult[Any], Resolve(confirmation_for)),
    )
    params = [*flat.parameters.values(), *extra]
    prepared_for.__signature__ = inspect.Signature([*params, context])  # type: ignore[attr-defined]
    prepared_for.__annotations__ = {"ctx": Context}
    lora_finetune.__signature__ = flat.replace(parameters=[*params, prepared, confirmation, context])  # type: ignore[attr-defined]
    lora_finetune.__annotations__ = {
        "ctx": Context,
        "prepared": prepared.annotation,
        "confirmation": confirmation.annotation,
        "return": FinetuneResult,
    }
    server.add_tool(
        lora_finetune,
        name="lora_finetune",
        title="Fine-tune a model with LoRA",
        description=(
            "Train a LoRA adapter (low-rank update W + (alpha/r)·A·B; the base weights stay frozen) for a causal "
            "LM (task causal-lm, default house/gpt2-pydocs) on texts, or an image classifier (task "
            "image-classification, default house/vit-digits) on labelled images. The user confirms the plan "
            "(trainable parameters, steps, estimated time) first; clients that cannot ask must pass confirm=true. "
            "One job trains at a time. Waits up to wait_seconds, reporting progress, then returns the result "
            "(held-out loss and perplexity/accuracy before and after) or a job handle for job_status. Use the "
            "adapter with generate_text(adapter=...) or classify_image(adapter=...)."
        ),
        annotations=ToolAnnotations(
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=False,
            open_world_hint=s.allow_downloads,
        ),
    )
    _register_job_tools(server, jobs)
    _register_adapter_tools(server, services)


def _annotated(tp: Any, *meta: Any) -> Any:
    return Annotated[(tp, *meta)]


def _run(
    prepared: Any, store: Any, steps: int | None, learning_rate: float | None, progress: Any
) -> lora.LoraResult:
    from genai_mcp.tools.lora.train import train

    result: lora.LoraResult = train(
        prepared, store, on_progress=progress, steps=steps, learning_rate=learning_rate
    )
    return result


async def _wait_for(ctx: Context[Any], jobs: JobManager, job_id: str, wait: float) -> lora.JobInfo:
    """Wait up to `wait` s for the job, reporting each new step; cancel the job if this call is cancelled."""
    deadline = time.monotonic() + wait
    info = jobs.status(job_id)
    reported = -1
    try:
        while True:
            if info.step != reported and info.step > 0:
                reported = info.step
                loss = f", loss {info.loss:.4f}" if info.loss is not None else ""
                await ctx.report_progress(
                    info.step, total=info.total_steps, message=f"step {info.step}/{info.total_steps}{loss}"
                )
            left = deadline - time.monotonic()
            if info.state in ("succeeded", "failed", "cancelled") or left <= 0:
                return info
            info = await anyio.to_thread.run_sync(
                functools.partial(jobs.wait, job_id, min(left, 1.0), past_step=info.step),
                abandon_on_cancel=True,
            )
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
        return FinetuneResult(
            status="cancelled",
            note=f"The job was cancelled ({info.error}); no adapter was saved.",
            plan=plan,
            job=info,
        )
    where = (
        f"at step {info.step} of {info.total_steps}"
        if info.state == "running"
        else f"queued ({info.queue_position} ahead)"
    )
    return FinetuneResult(
        status=info.state,
        note=(
            f"Job {info.job_id} is still {info.state} after {wait:g} s, {where}. Poll job_status(job_id="
            f"{info.job_id!r}); it saves adapter {info.adapter!r} when done. cancel_job stops it."
        ),
        plan=plan,
        job=info,
    )


def _register_job_tools(server: MCPServer[Any], jobs: JobManager) -> None:
    read = ToolAnnotations(
        read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )

    def job_status(request: JobIdRequest) -> lora.JobInfo:
        return jobs.status(request.job_id)

    def cancel_job(request: JobIdRequest) -> lora.JobInfo:
        jobs.cancel(request.job_id)
        # A running job stops at its next step; wait for that so the answer says "cancelled".
        return jobs.wait(request.job_id, _CANCEL_WAIT_S)

    def list_jobs(request: NoRequest) -> JobList:
        return JobList(jobs=jobs.list())

    register_model_tool(
        server,
        job_status,
        JobIdRequest,
        lora.JobInfo,
        name="job_status",
        title="Status of a fine-tuning job",
        description=(
            "State (queued, running, succeeded, failed, cancelled), step and total, latest loss and the loss "
            "curve, and once done the held-out metric before/after and the full result."
        ),
        annotations=read,
    )
    register_model_tool(
        server,
        cancel_job,
        JobIdRequest,
        lora.JobInfo,
        name="cancel_job",
        title="Cancel a fine-tuning job",
        description=(
            "Stop a job: a queued one at once, a running one within one training step. Nothing is saved for a "
            "cancelled job. Returns its status once stopped (or after 10 s)."
        ),
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
        ),
    )
    register_model_tool(
        server,
        list_jobs,
        NoRequest,
        JobList,
        name="list_jobs",
        title="List fine-tuning jobs",
        description="Every job this server process remembers (jobs are not kept across restarts), newest first.",
        annotations=read,
    )


def _register_adapter_tools(server: MCPServer[Any], services: Services) -> None:
    store = services.adapters

    def delete_adapter(request: AdapterNameRequest) -> Deleted:
        store.delete(request.name)
        return Deleted(deleted=request.name)

    register_model_tool(
        server,
        delete_adapter,
        AdapterNameRequest,
        Deleted,
        name="delete_adapter",
        title="Delete a LoRA adapter",
        description="Remove a saved adapter (its folder under the adapters directory). Cannot be undone.",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
        ),
    )
    register_adapter_resources(server, store)
