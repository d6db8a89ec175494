"""MCP prompts: the toolbox's workflows, each a message telling the assistant which tools to call.

    evaluate_text         score candidates against references        text_metrics
    ask_collection        answer a question from a RAG collection     rag_answer, rag_search
    describe_an_image     say what an image shows                     describe_image
    plan_lora_finetune    plan, confirm and run a LoRA fine-tune      lora_finetune, job_status
    review_training_job   report a job and try its adapter            job_status, generate_text /
                                                                      classify_image

A prompt's text names every tool call as `tool` with {JSON arguments} (call() below) and every
result field as `tool.field.path`, so a test can check them against tools/list and the tools'
schemas. Arguments are strings (as MCP has them), checked before anything is rendered (server/prompting.py).
Prompts read this server's state (collections, adapters, jobs) when rendered, so what they say is
true of this server.
Which prompt arguments complete to what: server/completions.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mcp.server import MCPServer

from genai_mcp.server.prompting import (
    PromptArg,
    PromptError,
    PromptSpec,
    call,
    integer_argument,
    lines_of,
    publish_prompts,
)
from genai_mcp.server.state import ServerState
from genai_mcp.tools import lora
from genai_mcp.tools.errors import GenAIError
from genai_mcp.tools.metrics.text import MAX_TOTAL_CHARS
from genai_mcp.tools.rag.schemas import COLLECTION_PATTERN

__all__ = ["PROMPTS", "PromptArg", "PromptSpec", "call", "register"]

REFERENCE_SEPARATOR = "|||"  # between alternative references of one candidate (as in Moses files)
_IMAGE_CHARS = 200_000  # an image argument is meant to be a path or URI; inline base64 stays small


# ---- evaluate_text


def _evaluate_text(state: ServerState, args: Mapping[str, str]) -> str:
    candidates = lines_of(args["candidates"])
    references = [
        [ref.strip() for ref in line.split(REFERENCE_SEPARATOR) if ref.strip()]
        for line in lines_of(args["references"])
    ]
    if not candidates:
        raise PromptError("candidates has no text: give one candidate per line")
    if len(references) != len(candidates):
        raise PromptError(
            f"{len(candidates)} candidate line(s) but {len(references)} reference line(s): give one "
            f"reference line per candidate (alternatives on a line separated by {REFERENCE_SEPARATOR!r})"
        )
    empty = [i for i, refs in enumerate(references, 1) if not refs]
    if empty:
        raise PromptError(
            f"reference line {empty[0]} has no text between the {REFERENCE_SEPARATOR!r} separators"
        )
    kind = args.get("kind", "translation")
    metrics = {
        "translation": ["bleu", "chrf"],
        "summary": ["rouge1", "rouge2", "rougeL"],
        "both": ["bleu", "chrf", "rouge1", "rouge2", "rougeL"],
    }[kind]
    steps = [
        "Call " + call("text_metrics", candidates=candidates, references=references, metrics=metrics) + "."
    ]
    if "bleu" in metrics:
        steps.append(
            "Report corpus BLEU `text_metrics.bleu.corpus.score` and chrF `text_metrics.chrf.corpus` "
            "(both 0-100), with `text_metrics.bleu.signature` so the scores can be reproduced."
        )
    if "rouge1" in metrics:
        steps.append(
            "Report ROUGE F1 (0-1): `text_metrics.rouge1.mean.f1`, `text_metrics.rouge2.mean.f1` and "
            "`text_metrics.rougeL.mean.f1`."
        )
    per = "`text_metrics.bleu.sentences`" if "bleu" in metrics else "`text_metrics.rougeL.per_candidate`"
    steps.append(
        f"From the per-candidate scores ({per}), name the weakest candidates (at most three) and say "
        "briefly what differs from their references: missing content, wrong words, word order, length."
    )
    lines = [
        f"Score these {len(candidates)} system output(s) against their references with the genai-mcp "
        f"server's text metrics ({', '.join(metrics)}) and report what the numbers say.",
        "",
        *(f"{i}. {step}" for i, step in enumerate(steps, 1)),
        "Give numbers as the tool returned them; do not compute metrics yourself.",
    ]
    return "\n".join(lines)


# ---- ask_collection


def _ask_collection(state: ServerState, args: Mapping[str, str]) -> str:
    collection, question = args["collection"], args["question"].strip()
    if not re.fullmatch(COLLECTION_PATTERN, collection):
        raise PromptError(
            f"collection {collection!r} is not a collection name (1-64 of a-z, 0-9, '_' and '-')"
        )
    if not state.rag.exists(collection):
        known = ", ".join(state.rag.names()) or "none yet (rag_index creates them)"
        raise PromptError(f"there is no collection {collection!r}; collections: {known}")
    k = integer_argument(args, "k", 5, low=1, key="rag.max_k", state=state)
    return "\n".join(
        [
            f"Answer this question from the documents in the RAG collection {collection!r} of the "
            "genai-mcp server, and cite the passages you use as [n].",
            "",
            f"Question: {question}",
            "",
            "1. Call " + call("rag_answer", collection=collection, question=question, k=k) + ".",
            '2. If `rag_answer.answer_status` is "produced", give `rag_answer.answer`, checking each '
            "claim against the passage it cites in `rag_answer.context.hits` (passage [n] is the hit "
            "whose rank is n). Otherwise `rag_answer.answer_note` says why no answer was written: answer "
            "yourself from `rag_answer.context.hits` only.",
            "3. If the passages do not answer the question, search once more with other words: call "
            + call(
                "rag_search",
                collection=collection,
                query="<the question in other words>",
                k=k,
                mode="keyword",
            )
            + ", and answer from those hits.",
            "If nothing relevant is found, say that the documents do not answer the question; do not "
            "answer from general knowledge.",
        ]
    )


# ---- describe_an_image


def _describe_an_image(state: ServerState, args: Mapping[str, str]) -> str:
    image = args["image"].strip()
    labels = (
        [label.strip() for label in args["labels"].split(",") if label.strip()] if "labels" in args else None
    )
    if labels is not None and not labels:
        raise PromptError("labels has no label: give candidate labels separated by commas, or leave it out")
    described = call(
        "describe_image",
        image=image,
        labels=labels,
        classifier_model=args.get("classifier_model"),
        zero_shot_model=args.get("zero_shot_model"),
    )
    which = "the candidate labels given" if labels else "the classifier's own label names"
    return "\n".join(
        [
            "Describe an image for the user in one or two sentences, grounded in what the genai-mcp "
            "server's vision models see in it.",
            "",
            f"1. Call {described}. It runs an image classifier and a zero-shot (CLIP) model scoring {which}, "
            "then asks you (MCP sampling) for one sentence.",
            '2. If `describe_image.description_status` is "produced", give `describe_image.description`. '
            "Otherwise write the sentence yourself from the top labels in "
            "`describe_image.classification.results` and `describe_image.zero_shot.results` "
            "(`best_label`, `best_probability`).",
            "3. Say how sure the models are (their probabilities) and which models answered "
            "(`describe_image.classification.model`, `describe_image.zero_shot.model`). The house models "
            "only know handwritten digits 0-9: when they answered for another kind of picture, say so "
            "rather than trusting the label.",
        ]
    )


# ---- plan_lora_finetune


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


# ---- review_training_job


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


# ---- the prompts

PROMPTS: tuple[PromptSpec, ...] = (
    PromptSpec(
        name="evaluate_text",
        title="Evaluate translations or summaries against references",
        description="Scores system outputs against references with text_metrics (BLEU, chrF, ROUGE) and "
        "explains the result.",
        arguments=(
            PromptArg("candidates", "The system outputs, one per line.", True, MAX_TOTAL_CHARS),
            PromptArg(
                "references",
                f"The references, one line per candidate; alternatives on a line separated by "
                f"'{REFERENCE_SEPARATOR}'.",
                True,
                MAX_TOTAL_CHARS,
            ),
            PromptArg(
                "kind",
                "translation (BLEU, chrF; default), summary (ROUGE-1/2/L) or both.",
                choices=("translation", "summary", "both"),
            ),
        ),
        render=_evaluate_text,
    ),
    PromptSpec(
        name="ask_collection",
        title="Ask a question of a RAG collection",
        description="Answers a question from an indexed document collection (rag_answer, then "
        "rag_search if needed), citing passages.",
        arguments=(
            PromptArg("collection", "The RAG collection to ask (see rag://collections).", True),
            PromptArg("question", "The question.", True, "rag.max_query_chars"),
            PromptArg("k", "Passages to retrieve (default 5).", max_chars=8),
        ),
        render=_ask_collection,
    ),
    PromptSpec(
        name="describe_an_image",
        title="Describe an image",
        description="Describes an image from what the server's classifier and zero-shot model see in it "
        "(describe_image).",
        arguments=(
            PromptArg(
                "image",
                "The image: a file path under the server's roots or a genai-mcp://outputs/... URI (base64 "
                f"works too, up to {_IMAGE_CHARS} characters).",
                True,
                _IMAGE_CHARS,
            ),
            PromptArg(
                "labels",
                "Candidate labels for the zero-shot model, comma-separated (optional).",
                max_chars=20_000,
            ),
            PromptArg("classifier_model", "Image classifier to use (default: the server's)."),
            PromptArg("zero_shot_model", "CLIP-style model to use (default: the server's)."),
        ),
        render=_describe_an_image,
    ),
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


def register(server: MCPServer[Any], state: ServerState) -> None:
    publish_prompts(server, state, PROMPTS)
