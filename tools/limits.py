"""Limits and settings named by key: how tools/ declares what an operator may change.

A key is a dotted domain name, `<area>.<name>` in lowercase (`text.max_new_tokens`, `files.roots`).
The limits dataclasses of tools/ declare each such field with `limit(key, default)`; that default is
the only one (a server takes its own defaults from `defaults()`). A refusal carries the key in
GenAIError.setting, never an environment variable; request-model descriptions quote a limit as a
`{key}` placeholder that a server fills with its live values through `render`.

    limit(key, default)        a dataclass field declaring the limit `key`
    limit_keys(cls)            {field name: key} of a limits dataclass
    render(text, values)       `{key}` placeholders replaced by values[key]
    defaults()                 {key: default} over every limits class in tools/
    OTHER_KEYS                 keys of settings a refusal may point at that are not limits here

Importing this module imports no torch and none of the limits classes; defaults() imports them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = ["KEY_PATTERN", "OTHER_KEYS", "defaults", "limit", "limit_keys", "render"]

KEY_PATTERN = r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*"
_KEY = re.compile(KEY_PATTERN)
_PLACEHOLDER = re.compile(r"\{(" + KEY_PATTERN + r")\}")
_METADATA = "limit"

T = TypeVar("T")

OTHER_KEYS: tuple[str, ...] = (
    "files.roots",  # folders paths may name (ImagePolicy.roots, RagLimits.roots, LoraLimits.roots)
    "images.allow_url_fetch",  # ImagePolicy.allow_url_fetch
    "models.allow_downloads",  # hub ids not in the local cache may be fetched
    "models.device",  # where models run (RagLimits.model_device)
    "rag.device",  # where the RAG models run, if not models.device (RagLimits.device)
    # the OpenAI-compatible engine generate_text runs on, when set (tools/text/engine.py Engine)
    "text.engine_url",
    "text.engine_model",
    "text.engine_timeout_seconds",
    "text.engine_flavor",
    # the default model of each task, when a call names none (tools/models/defaults.py)
    "models.classifier",
    "models.zero_shot",
    "models.text",
    "models.diffusion",
    "models.latent",
    "models.embedding",
    "models.reranker",
)
"""Settings that errors name (GenAIError.setting) but that no limits class declares with a default:
their values (folders, switches, devices) are the caller's to give."""


def limit(key: str, default: T) -> T:
    """A field of a frozen limits dataclass: `max_k: int = limit("rag.max_k", 50)`."""
    if not _KEY.fullmatch(key):
        raise ValueError(f"limit key {key!r} is not of the form area.name (lowercase, one dot)")
    field: T = dataclasses.field(default=default, metadata={_METADATA: key})
    return field


def limit_keys(cls: Any) -> dict[str, str]:
    """{field name: key} for every field of the dataclass `cls` (or instance) declared with limit()."""
    return {f.name: f.metadata[_METADATA] for f in dataclasses.fields(cls) if _METADATA in f.metadata}


def render(text: str, values: Mapping[str, object]) -> str:
    """`text` with each `{key}` placeholder (a well-formed key) replaced by str(values[key]).

    Other braces ("{}", "{role, content}", JSON) are left alone. KeyError for a placeholder whose
    key `values` lacks: a typo in a description should fail where it is rendered, not ship.
    """

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"no value for the placeholder {{{key}}} in {text[:80]!r}")
        return str(values[key])

    return _PLACEHOLDER.sub(value, text)


def defaults() -> dict[str, object]:
    """Every key the limits classes of tools/ declare, with its default, sorted by key.

    A key declared by several classes must have one default in all of them.
    """
    from genai_mcp.tools.anatomy.schemas import AnatomyLimits
    from genai_mcp.tools.diffusion.schemas import DiffusionLimits
    from genai_mcp.tools.images import ImageLimits
    from genai_mcp.tools.latent.schemas import LatentLimits
    from genai_mcp.tools.lora.data import LoraLimits
    from genai_mcp.tools.lora.jobs import JobLimits
    from genai_mcp.tools.outputs import OutputLimits
    from genai_mcp.tools.rag.pipeline import RagLimits
    from genai_mcp.tools.text.lm import TextLimits
    from genai_mcp.tools.vision.schemas import VisionLimits

    classes: tuple[type, ...] = (
        TextLimits,
        AnatomyLimits,
        DiffusionLimits,
        LatentLimits,
        ImageLimits,
        VisionLimits,
        RagLimits,
        LoraLimits,
        JobLimits,
        OutputLimits,
    )
    found: dict[str, object] = {}
    for cls in classes:
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for name, key in limit_keys(cls).items():
            default = fields[name].default
            if key in found and found[key] != default:
                raise AssertionError(
                    f"{cls.__name__}.{name} declares {key} = {default!r}, elsewhere {found[key]!r}"
                )
            found[key] = default
    return dict(sorted(found.items()))
