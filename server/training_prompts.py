"""MCP prompts for LoRA fine-tuning: plan and run a job, review one (a part of server/prompts.py).

    plan_lora_finetune    plan, confirm and run a LoRA fine-tune      lora_finetune, job_status
    review_training_job   report a job and try its adapter            job_status, generate_text /
                                                                      classify_image

Written as the other prompts are (server/prompts.py says how): each names its tool calls with
call() and its result fields as `tool.field.path`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from genai_mcp.server.prompting import PromptArg, PromptError, PromptSpec, call, integer_argument
from genai_mcp.server.state import ServerState
from genai_mcp.tools import lora
from genai_mcp.tools.errors import GenAIError

__all__ = ["TRAINING_PROMPTS"]


def _plan_lora_finetune(state: ServerState, args: Mapping[str, str]) -> str:
    task, dataset = args["task"], args["dataset"].strip()
    name = args.get("name")
    if name is not None:
        if not re.fullmatch(lora.ADAPTER_NAME_PATTERN, name):
            raise PromptError(
                f"name {name!r} is not an adapter name: 1-64 letters, digits, '.', '_' or '-', starting "
                "with a letter or digit"
            )
        if state.adapters.exists(name):
            raise PromptError(f"an adapter named {name!r} already exists: choose a new name")
    steps = integer_argument(args, "max_steps", None, low=1, key="lora.max_steps", state=state)
    base = args.get("base_model")
    request = {"task": task, "dataset": dataset, "base_model": base, "name": name, "max_steps": steps}
    use = "generate_text" if task == "causal-lm" else "classify_image"
    return "\n".join(
        [
            f"Plan and run a LoRA fine-tune ({task}) of {base or 'the house default model'} on {dataset!r} "
            "with the genai-mcp server, with the user's confirmation.",
            "",
            f"1. Tell the user in two sentences what will be trained, on what, and that it saves a new adapter "
            f"for {use}.",
            "2. Call " + call("lora_finetune", **request) + ". The server shows the user the plan (trainable "
            "parameters, steps, estimated time) as a form and trains only if they accept; "
            '`lora_finetune.status` "declined" means they said no: stop there.',
            "3. If the tool answers that this client cannot show the confirmation form, show the user the "
            "plan in your own words and ask; only if they agree, call "
            + call("lora_finetune", **request, confirm=True)
            + ". Never pass confirm on your own.",
            '4. While `lora_finetune.status` is "running" or "queued", call '
            + call("job_status", job_id="<lora_finetune.job.job_id>")
            + " now and then and report `job_status.step` of `job_status.total_steps` and `job_status.loss`. "
            "If the user wants to stop, call "
            + call("cancel_job", job_id="<lora_finetune.job.job_id>")
            + ".",
            '5. When `job_status.state` is "succeeded", report the held-out `job_status.eval_metric` before '
            "and after (`job_status.metric_before`, `job_status.metric_after`; perplexity: lower is better, "
            "accuracy: higher is better) and the adapter's name `job_status.result.adapter`. If it failed, "
            "give `job_status.error`.",
        ]
    )


def _review_training_job(state: ServerState, args: Mapping[str, str]) -> str:
    job_id = args["job_id"].strip()
    try:
        job = state.jobs.status(job_id)
    except GenAIError as exc:
        raise PromptError(str(exc)) from None
    if job.task == "causal-lm":
        trial = call(
            "generate_text", prompt="<the start of a text like the training texts>", adapter=job.adapter
        )
        base = call("generate_text", prompt="<the same start>")
    else:
        trial = call("classify_image", image="<an image like the training images>", adapter=job.adapter)
        base = call("classify_image", image="<the same image>")
    return "\n".join(
        [
            f"Report on the LoRA fine-tuning job {job_id} (adapter {job.adapter!r}, {job.task}) of the "
            "genai-mcp server and, if it succeeded, try its adapter.",
            "",
            "1. Call " + call("job_status", job_id=job_id) + ".",
            "2. Report `job_status.state`, `job_status.step` of `job_status.total_steps` and how the "
            "training loss moved over `job_status.loss_curve` (first, lowest, last). If the job failed or "
            "was cancelled, give `job_status.error` and stop.",
            '3. If `job_status.state` is "succeeded", report the held-out `job_status.eval_metric` before '
            "and after (`job_status.metric_before`, `job_status.metric_after`; perplexity: lower is better, "
            "accuracy: higher is better), then show the adapter at work: call "
            + trial
            + " and, to compare, the base model without it: "
            + base
            + ".",
            "4. Say plainly whether the adapter helped, by the numbers above.",
        ]
    )


TRAINING_PROMPTS: tuple[PromptSpec, ...] = (
    PromptSpec(
        name="plan_lora_finetune",
        title="Plan and run a LoRA fine-tune",
        description="Walks through a LoRA fine-tune with the user's confirmation (lora_finetune), "
        "follows the job (job_status) and reports the held-out metric before and after.",
        arguments=(
            PromptArg(
                "task",
                "causal-lm (adapt a text generator) or image-classification (adapt an image classifier).",
                True,
                choices=("causal-lm", "image-classification"),
            ),
            PromptArg(
                "dataset",
                "A path under the server's roots: a .txt or .jsonl file (causal-lm), or a folder with one "
                "subfolder of images per class (image-classification).",
                True,
            ),
            PromptArg("base_model", "The model to adapt (default: the house model of the task)."),
            PromptArg("name", "A new adapter name (default: derived from the task and time)."),
            PromptArg("max_steps", "Optimizer steps (default: the tool's, from the data size).", max_chars=8),
        ),
        render=_plan_lora_finetune,
    ),
    PromptSpec(
        name="review_training_job",
        title="Review a fine-tuning job",
        description="Reports a LoRA job's progress or outcome (job_status) and, once it succeeded, "
        "compares its adapter with the base model.",
        arguments=(PromptArg("job_id", "The job id (from lora_finetune or list_jobs).", True, 100),),
        render=_review_training_job,
    ),
)
