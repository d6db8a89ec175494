"""MCP prompts: the toolbox's workflows, each a message telling the assistant which tools to call.

    evaluate_text         score candidates against references        text_metrics
    ask_collection        answer a question from a RAG collection     rag_answer, rag_search
    describe_an_image     say what an image shows                     describe_image
    plan_lora_finetune    plan, confirm and run a LoRA fine-tune      lora_finetune, job_status
    review_training_job   report a job and try its adapter            job_status, generate_text /
                                                                      classify_image
                          (those two: server/training_prompts.py)

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
from genai_mcp.server.training_prompts import TRAINING_PROMPTS
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
    *TRAINING_PROMPTS,
)


def register(server: MCPServer[Any], state: ServerState) -> None:
    publish_prompts(server, state, PROMPTS)
