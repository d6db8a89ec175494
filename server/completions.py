"""completion/complete: values for prompt arguments and resource-template parameters.

One table says where each argument's values come from, read from this server's ServerState at the
moment of the request (nothing is cached, so a collection indexed a second ago is offered):

    models(task)      model ids known locally: the operator's default for the task, the house
                      models serving it, the models loaded now for it, then every model
                      repository in the local Hugging Face cache (the cache the ModelCache
                      reads; its ids carry no task)
    collections       RAG collection names              adapters   LoRA adapter names
    jobs              fine-tuning job ids, newest first  outputs    generated files, newest first
    house folders     the house models' card folders
    choices           a prompt argument's fixed values (server/prompts.py declares them)

A value matches when it, or its part after the last '/', starts with the typed text (ignoring
case): "vit" finds "house/vit-digits" and "google/vit-base-patch16-224". The first MAX_VALUES
matches come back (the protocol's cap), `total` counts every match and `has_more` says whether
some were left out. An unknown prompt, template or argument gets an empty completion, never an
error; a source that cannot be read (a missing or unreadable cache) offers nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import anyio.to_thread
from mcp.server import MCPServer
from mcp.types import (
    Completion,
    CompletionArgument,
    CompletionContext,
    PromptReference,
    ResourceTemplateReference,
)

from genai_mcp.server.prompts import PROMPTS
from genai_mcp.server.state import ServerState
from genai_mcp.tools.errors import GenAIError
from genai_mcp.tools.house import HOUSE_MODELS

__all__ = ["MAX_VALUES", "PROMPT_ARGUMENTS", "TEMPLATE_PARAMETERS", "Source", "complete", "register"]

logger = logging.getLogger(__name__)

MAX_VALUES = 100  # values in one completion (the protocol's cap)

# (state, the other arguments the client has filled in) -> every value, best first
Source = Callable[[ServerState, Mapping[str, str]], Iterable[str]]

# lora_finetune's task -> the model task its base model serves
_LORA_BASE_TASKS = {"causal-lm": "text-generation", "image-classification": "image-classification"}


def models(*tasks: str) -> Source:
    """Model ids for `tasks` (all tasks when none is given)."""

    def source(state: ServerState, context: Mapping[str, str]) -> list[str]:
        return _model_ids(state, tasks)

    return source


def lora_base_models(state: ServerState, context: Mapping[str, str]) -> list[str]:
    """Base models for the task already chosen (both trainable kinds before one is)."""
    task = _LORA_BASE_TASKS.get(context.get("task", ""))
    return _model_ids(state, (task,) if task else tuple(_LORA_BASE_TASKS.values()))


def collections(state: ServerState, context: Mapping[str, str]) -> list[str]:
    return state.rag.names()


def adapters(state: ServerState, context: Mapping[str, str]) -> list[str]:
    return [info.name for info in state.adapters.list()]


def jobs(state: ServerState, context: Mapping[str, str]) -> list[str]:
    return [job.job_id for job in state.jobs.list()]


def outputs(state: ServerState, context: Mapping[str, str]) -> list[str]:
    return [out.name for out in state.outputs.stored()]


def output_uris(state: ServerState, context: Mapping[str, str]) -> list[str]:
    return [out.uri for out in state.outputs.stored()]


def house_folders(state: ServerState, context: Mapping[str, str]) -> list[str]:
    return [m.folder for m in HOUSE_MODELS.values()]


# prompt name -> argument -> source (arguments with fixed choices complete from the prompt's spec)
PROMPT_ARGUMENTS: dict[str, dict[str, Source]] = {
    "ask_collection": {"collection": collections},
    "describe_an_image": {
        "image": output_uris,
        "classifier_model": models("image-classification"),
        "zero_shot_model": models("zero-shot-image-classification"),
    },
    "plan_lora_finetune": {"base_model": lora_base_models},
    "review_training_job": {"job_id": jobs},
}

# URI template -> parameter -> source
TEMPLATE_PARAMETERS: dict[str, dict[str, Source]] = {
    "models://{folder}/card": {"folder": house_folders},
    "adapters://{name}": {"name": adapters},
    "adapters://{name}/card": {"name": adapters},
    "genai-mcp://outputs/{name}": {"name": outputs},
    "jobs://{job_id}": {"job_id": jobs},
    "rag://collections/{collection}": {"collection": collections},
}


def _choices(prompt: str, argument: str) -> Source | None:
    for spec in PROMPTS:
        if spec.name == prompt:
            for arg in spec.arguments:
                if arg.name == argument and arg.choices:
                    values = list(arg.choices)
                    return lambda state, context: values
    return None


def source_of(ref: PromptReference | ResourceTemplateReference, argument: str) -> Source | None:
    """Where the values of `argument` of `ref` come from; None when nothing completes it."""
    if isinstance(ref, PromptReference):
        return PROMPT_ARGUMENTS.get(ref.name, {}).get(argument) or _choices(ref.name, argument)
    return TEMPLATE_PARAMETERS.get(ref.uri, {}).get(argument)


def complete(state: ServerState, source: Source, typed: str, context: Mapping[str, str]) -> Completion:
    """The values of `source` that match `typed`, capped at MAX_VALUES, with the honest total."""
    try:
        values = list(dict.fromkeys(source(state, context)))  # first occurrence wins, order kept
    except (GenAIError, OSError) as exc:  # a store that cannot be read now offers nothing
        logger.debug("completion source failed: %s", exc)
        values = []
    prefix = typed.lower()
    matches = [
        v for v in values if v.lower().startswith(prefix) or v.lower().rsplit("/", 1)[-1].startswith(prefix)
    ]
    return Completion(values=matches[:MAX_VALUES], total=len(matches), has_more=len(matches) > MAX_VALUES)


def register(server: MCPServer[Any], state: ServerState) -> None:
    """Declare the completions capability: one handler answers every prompt and template."""

    @server.completion()  # type: ignore[no-untyped-call, untyped-decorator]
    async def handle(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion:
        source = source_of(ref, argument.name)
        if source is None:
            return Completion(values=[], total=0, has_more=False)
        filled = dict(context.arguments or {}) if context is not None else {}
        # Sources read disk (collections, adapters, the hub cache): off the event loop.
        return await anyio.to_thread.run_sync(complete, state, source, argument.value, filled)


def _model_ids(state: ServerState, tasks: Iterable[str]) -> list[str]:
    wanted = set(tasks)

    def serves(task: str) -> bool:
        return not wanted or task in wanted

    # The operator's chosen defaults first (ModelCache.defaults, {task: model}, where the cache has them).
    chosen: Mapping[str, str] = state.models.defaults
    ids = [model for task, model in chosen.items() if serves(task)]
    ids += [m.name for m in HOUSE_MODELS.values() if serves(m.task)]
    ids += [info.id for info in state.models.loaded() if serves(info.task)]
    return ids + _cached_hub_models(state)


def _cached_hub_models(state: ServerState) -> list[str]:
    """Model repositories in the local Hugging Face cache, by id (empty if there is no cache)."""
    from huggingface_hub import constants, scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    cache_dir = state.models.hub_cache_dir or constants.HF_HUB_CACHE  # the one hub_snapshot reads
    try:
        scanned = scan_cache_dir(cache_dir)
    except (CacheNotFound, ValueError, OSError) as exc:
        logger.debug("no Hugging Face cache to complete from: %s", exc)
        return []
    return sorted(repo.repo_id for repo in scanned.repos if repo.repo_type == "model")
