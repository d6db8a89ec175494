"""tools/limits.py: limits declared by key, their one set of defaults, and `{key}` placeholders."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from genai_mcp.tools import diffusion, latent, lora, rag, text, vision
from genai_mcp.tools.errors import GenAIError, LimitExceededError
from genai_mcp.tools.limits import KEY_PATTERN, OTHER_KEYS, defaults, limit, limit_keys, render
from genai_mcp.tools.models.defaults import DEFAULT_TEXT_KEYS, default_model_texts
from genai_mcp.tools.text import TextLimits

TOOLS = Path(__file__).resolve().parents[2] / "tools"
AREAS = "text|diffusion|latent|images|vision|anatomy|rag|lora|files|models|outputs"


def test_a_limit_is_a_dataclass_field_with_its_key() -> None:
    @dataclasses.dataclass(frozen=True)
    class Small:
        max_things: int = limit("things.max_count", 3)
        label: str = "not a limit"

    assert Small().max_things == 3 and Small(max_things=5).max_things == 5
    assert limit_keys(Small) == {"max_things": "things.max_count"} == limit_keys(Small())
    for bad in ("Text.max", "text", "text.max.tokens", "text.", "GENAI_MCP_MAX_BATCH"):
        with pytest.raises(ValueError, match=r"area\.name"):
            limit(bad, 1)


def test_render_fills_key_placeholders_and_leaves_other_braces() -> None:
    values = {"text.max_new_tokens": 1024, "rag.max_k": 50}
    described = "At most {text.max_new_tokens} tokens, k up to {rag.max_k}; 'a photo of {}', {role, content}"
    assert render(described, values) == "At most 1024 tokens, k up to 50; 'a photo of {}', {role, content}"
    assert render('{"text": "..."} {x} {Text.max}', values) == '{"text": "..."} {x} {Text.max}'
    with pytest.raises(KeyError, match=r"text\.max_new_token"):
        render("at most {text.max_new_token}", values)


def test_defaults_gather_every_limits_class_once() -> None:
    found = defaults()
    assert found == {
        "anatomy.max_images": 8,
        "diffusion.max_num_images": 64,
        "diffusion.max_steps": 1000,
        "images.max_bytes": 20 * 2**20,
        "images.max_pixels": 40_000_000,
        "latent.max_frames": 32,
        "latent.max_num_images": 8,
        "latent.max_pixels": 1024 * 1024,
        "latent.max_prompt_chars": 2000,
        "latent.max_set_images": 16,
        "latent.max_steps": 150,
        "lora.max_batch_size": 64,
        "lora.max_examples": 5000,
        "lora.max_queued": 1,
        "lora.max_rank": 64,
        "lora.max_steps": 2000,
        "lora.max_text_chars": 2_000_000,
        "outputs.max_bytes": 512 * 2**20,
        "outputs.max_files": 1000,
        "rag.max_document_chars": 1_000_000,
        "rag.max_documents": 100,
        "rag.max_k": 50,
        "rag.max_query_chars": 2000,
        "text.max_new_tokens": 1024,
        "text.max_stop_strings": 16,
        "text.max_text_chars": 200_000,
        "vision.max_batch": 64,
    }
    assert not set(found) & set(OTHER_KEYS)
    assert limit_keys(TextLimits) == {
        "max_new_tokens": "text.max_new_tokens",
        "max_stop_strings": "text.max_stop_strings",
        "max_text_chars": "text.max_text_chars",
    }
    assert TextLimits().max_new_tokens == found["text.max_new_tokens"]  # the one default


def test_importing_limits_and_gathering_defaults_imports_no_torch() -> None:
    code = (
        "import sys; from genai_mcp.tools.limits import defaults; defaults(); "
        "print(sorted(m for m in ('torch', 'transformers', 'diffusers', 'numpy', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _described(model: type[BaseModel]) -> list[str]:
    return [f.description or "" for f in model.model_fields.values()]


def test_request_descriptions_quote_limits_only_by_known_placeholder() -> None:
    requests: list[type[BaseModel]] = [
        text.GenerateTextRequest,
        text.PerplexityRequest,
        diffusion.SampleRequest,
        diffusion.DenoiseRequest,
        vision.ClassifyRequest,
        vision.ZeroShotRequest,
        vision.DescribeRequest,
        rag.IndexRequest,
        rag.SearchRequest,
        lora.LoraRequest,
        latent.GenerateImageRequest,
        latent.EditImageRequest,
        latent.InterpolateRequest,
        latent.ArithmeticRequest,
    ]
    placeholders = set()
    values = {**defaults(), **default_model_texts({})}  # limits, and the built-in default models
    for model in requests:
        for description in _described(model):
            assert "GENAI_MCP" not in description, (model.__name__, description)
            placeholders |= set(re.findall(r"\{(" + KEY_PATTERN + r")\}", description))
            render(description, values)  # every placeholder has a value
    assert {"text.max_new_tokens", "text.max_stop_strings", "text.max_text_chars"} <= placeholders
    max_new = text.GenerateTextRequest.model_fields["max_new_tokens"].description or ""
    assert render(max_new, defaults()).startswith("Most tokens to generate (server cap: 1024).")


def test_tools_name_no_environment_variable_and_only_known_keys() -> None:
    known = set(defaults()) | set(OTHER_KEYS) | set(DEFAULT_TEXT_KEYS)
    for path in sorted(TOOLS.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        assert "GENAI_MCP_" not in source, path
        for key in re.findall(r"[\"']((?:" + AREAS + r")\.[a-z][a-z0-9_]*)[\"']", source):
            assert key in known, (path, key)


def test_every_domain_error_takes_a_setting_key() -> None:
    plain = GenAIError("no roots", setting="files.roots")
    assert (str(plain), plain.setting) == ("no roots", "files.roots")
    assert GenAIError("no setting").setting is None
    over = LimitExceededError("k", 51, 50, "rag.max_k")
    assert (str(over), over.setting, over.value, over.limit) == (
        "k is 51, over the limit of 50",
        "rag.max_k",
        51,
        50,
    )
