"""The one limits table: the domain's setting keys, the server's settings and their variables.

tools/ names each limit by a key (`text.max_new_tokens`; tools/limits.py) and declares its default
there; nothing in tools/ knows how an operator sets it. Here each key maps to the ServerSettings
field that sets it, whose environment variable is GENAI_MCP_<FIELD>. From this table the server
builds the domain's limits objects, renders `{key}` placeholders in tool descriptions with the
live values, and names the variable in a refusal (server/errors.py). The default model of each
task is a setting too (`models.text` -> text_model, GENAI_MCP_TEXT_MODEL); descriptions name the
defaults in force through the domain's placeholders (tools/models/defaults.py). The HTTP request body
limit follows from these limits (request_body_limit) unless GENAI_MCP_MAX_REQUEST_BYTES sets it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar

from genai_mcp.tools.limits import limit_keys
from genai_mcp.tools.models.defaults import DEFAULT_MODEL_KEYS, default_model_texts

ENV_PREFIX = "GENAI_MCP_"

__all__ = [
    "ENV_PREFIX",
    "SETTINGS",
    "VARIABLES",
    "BodyLimit",
    "build_limits",
    "chosen_defaults",
    "live_values",
    "request_body_limit",
    "variable",
]


# setting key -> ServerSettings field
SETTINGS: dict[str, str] = {
    # limits on one call
    "text.max_new_tokens": "max_new_tokens",
    "text.max_stop_strings": "max_stop_strings",
    "text.max_text_chars": "max_text_chars",
    "diffusion.max_steps": "max_diffusion_steps",
    "diffusion.max_num_images": "max_num_images",
    "latent.max_steps": "latent_max_steps",
    "latent.max_num_images": "latent_max_images",
    "latent.max_pixels": "latent_max_pixels",
    "latent.max_prompt_chars": "latent_max_prompt_chars",
    "latent.max_frames": "latent_max_frames",
    "latent.max_set_images": "latent_max_set_images",
    "images.max_bytes": "max_image_bytes",
    "images.max_pixels": "max_image_pixels",
    "vision.max_batch": "max_batch",
    "anatomy.max_images": "anatomy_max_images",
    "rag.max_documents": "rag_max_documents",
    "rag.max_document_chars": "rag_max_document_chars",
    "rag.max_query_chars": "rag_max_query_chars",
    "rag.max_k": "rag_max_k",
    "lora.max_examples": "lora_max_examples",
    "lora.max_text_chars": "lora_max_text_chars",
    "lora.max_steps": "lora_max_steps",
    "lora.max_rank": "lora_max_rank",
    "lora.max_batch_size": "lora_max_batch_size",
    "lora.max_queued": "lora_max_queued",
    "outputs.max_files": "outputs_max_files",
    "outputs.max_bytes": "outputs_max_bytes",
    # what a refusal may point at besides a limit
    "files.roots": "roots",
    "images.allow_url_fetch": "allow_url_fetch",
    "models.allow_downloads": "allow_downloads",
    "models.device": "device",
    "rag.device": "rag_device",
    # the inference engine generate_text runs on, when set (its API key is no key here: never quoted)
    "text.engine_url": "text_engine_url",
    "text.engine_model": "text_engine_model",
    "text.engine_timeout_seconds": "text_engine_timeout_seconds",
    "text.engine_flavor": "text_engine_flavor",
    # the default model of each task (None: the built-in one)
    "models.classifier": "classifier_model",
    "models.zero_shot": "zero_shot_model",
    "models.text": "text_model",
    "models.diffusion": "diffusion_model",
    "models.latent": "latent_model",
    "models.embedding": "embedding_model",
    "models.reranker": "reranker_model",
    # the server's own, quoted in tool descriptions
    "server.lora_wait_seconds": "lora_wait_seconds",
    "server.preview_max_bytes": "preview_max_bytes",
    # one HTTP request body (None: derived from the input limits above; request_body_limit)
    "server.max_request_bytes": "max_request_bytes",
}


def variable(field: str) -> str:
    """The environment variable of a ServerSettings field."""
    return ENV_PREFIX + field.upper()


VARIABLES: dict[str, str] = {key: variable(field) for key, field in SETTINGS.items()}

T = TypeVar("T")


def chosen_defaults(settings: Any) -> dict[str, str]:
    """{task: model} for each task whose default model `settings` choose (the others keep theirs)."""
    chosen = {task: getattr(settings, SETTINGS[key]) for task, key in DEFAULT_MODEL_KEYS.items()}
    return {task: model for task, model in chosen.items() if model is not None}


def live_values(settings: Any) -> dict[str, object]:
    """Every key's value under `settings`, as `{key}` placeholders render it (20.0 s reads "20"); the
    default-model keys give the models in force and the words descriptions use for them."""
    values = {key: getattr(settings, field) for key, field in SETTINGS.items()}
    values.update(default_model_texts(chosen_defaults(settings)))
    values["server.max_request_bytes"] = request_body_limit(settings).bytes
    return {key: f"{v:g}" if isinstance(v, float) else v for key, v in values.items()}


def build_limits(cls: type[T], settings: Any, **extra: Any) -> T:
    """The domain limits dataclass `cls`, every field it declares with limit() taken from `settings`
    (lists as tuples: limits objects are frozen), `extra` for its other fields."""
    assert dataclasses.is_dataclass(cls)
    values = {}
    for name, key in limit_keys(cls).items():
        value = getattr(settings, SETTINGS[key])
        values[name] = tuple(value) if isinstance(value, list) else value
    return cls(**{**values, **extra})


# The HTTP request body limit. A body must hold the largest single input value a tool accepts at
# its limit, as a client writes it in JSON, plus the rest of the call. Several such values in one
# call (a batch of images at 20 MiB each, a hundred full documents) are not provided for: the body
# is held in memory whole before it is parsed, so the limit bounds what one request can make the
# server hold; such calls send files under the server's roots, split, or raise the setting.
REQUEST_MARGIN_BYTES = 2**20  # the JSON-RPC envelope and the call's other arguments
JSON_BYTES_PER_CHAR = 6  # "\u00e9": a character as a JSON escape, longer than UTF-8's 4 bytes at most
DATA_URI_PREFIX_BYTES = 64  # "data:image/png;base64," with room for longer media types


@dataclass(frozen=True)
class BodyLimit:
    """The largest HTTP request body the server reads, and what set it (for the refusal's text)."""

    bytes: int
    basis: str


def largest_inputs(settings: Any) -> dict[str, int]:
    """{ServerSettings field: bytes in a JSON body of the largest value that limit lets one call send}."""
    # A prompt or scored text, one RAG document, a LoRA dataset's texts together.
    texts = ("max_text_chars", "rag_max_document_chars", "lora_max_text_chars")
    sizes = {field: getattr(settings, field) * JSON_BYTES_PER_CHAR for field in texts}
    base64_bytes = 4 * -(-settings.max_image_bytes // 3)
    sizes["max_image_bytes"] = base64_bytes + DATA_URI_PREFIX_BYTES
    return sizes


def request_body_limit(settings: Any) -> BodyLimit:
    """The body limit in force: max_request_bytes when set, else the largest input plus a margin."""
    if settings.max_request_bytes is not None:
        return BodyLimit(settings.max_request_bytes, "set explicitly")
    sizes = largest_inputs(settings)
    field = max(sizes, key=sizes.__getitem__)
    value = getattr(settings, field)
    if field == "max_image_bytes":
        largest = f"one image at {variable(field)} ({value} bytes; {sizes[field]} as a base64 data: URI)"
    else:
        largest = f"one text at {variable(field)} ({value} characters; up to {sizes[field]} bytes in JSON)"
    basis = f"derived from the input limits: {largest} and 1 MiB for the rest of the call"
    return BodyLimit(sizes[field] + REQUEST_MARGIN_BYTES, basis)
