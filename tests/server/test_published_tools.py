"""Every tool publishes the parameters it published before the tool seam was consolidated.

tests/data/published_tools.json is `tools/list` of the server at commit b877d1b (before the
consolidation), with default settings: names, types, defaults, constraints, required lists,
titles and annotations must match exactly. Descriptions must match too, except the few that quoted
a limit's default or named a variable (they now quote the live value) or that now come from the
one request model a tool shares with another (rag_answer's retrieval fields are rag_search's).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import anyio
import pydantic_core
from mcp import Client

from genai_mcp.server.app import build_server, create_server
from genai_mcp.server.limits import live_values
from genai_mcp.server.settings import ServerSettings
from genai_mcp.tools.limits import render

BEFORE = json.loads((Path(__file__).parents[1] / "data" / "published_tools.json").read_text())

REWORDED = {
    ("generate_text", "max_new_tokens"),
    ("generate_text", "stop"),
    ("perplexity", "text"),
    ("rag_search", "k"),
    ("rag_answer", "k"),
    ("rag_answer", "mode"),
    ("rag_answer", "min_score"),
    ("rag_answer", "reranker"),
    ("rag_answer", "candidates"),
    ("lora_finetune", "wait_seconds"),
}

EXTENDED: dict[str, set[str]] = {
    # Tools that grew since the snapshot, by an issue: their title and description may say so, they
    # may gain optional parameters (held to their request models below), and the parameters listed
    # may widen their enum and reword their description; everything else stays as it was.
    "text_metrics": {"metrics"},  # issue 16: rougeS/rougeSU, rouge_s_max_skip, rouge_stemming
    "zero_shot_classify": set(),  # issue 16: SigLIP checkpoints (sigmoid per label)
    "list_jobs": set(),  # issue 18: jobs are kept across restarts and shared by replicas and workers
    "lora_finetune": set(),  # issue 18: one job at a time on each worker, not on the whole service
}


def published(tmp_path: Path, **settings: Any) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        async with Client(create_server(ServerSettings(data_dir=tmp_path, **settings))) as client:
            return {t.name: t for t in (await client.list_tools()).tools}

    return anyio.run(main)


def test_every_tool_publishes_the_same_parameters_as_before(tmp_path: Path) -> None:
    now = published(tmp_path)
    assert set(BEFORE) <= set(now)  # tools added since are held to their request models below
    for name, before in BEFORE.items():
        tool = now[name]
        grown = EXTENDED.get(name)
        if grown is None:
            assert tool.title == before["title"], name
            assert tool.description == before["description"], name
        assert tool.annotations is not None
        assert tool.annotations.model_dump(mode="json") == before["annotations"], name
        schema, old = tool.input_schema, before["input_schema"]
        if grown is None:
            assert set(schema["properties"]) == set(old["properties"]), name
        else:
            assert set(old["properties"]) <= set(schema["properties"]), name
        assert sorted(schema.get("required", [])) == sorted(old.get("required", [])), name
        assert schema.get("$defs", {}).keys() == old.get("$defs", {}).keys(), name
        for param, was in old["properties"].items():
            prop = schema["properties"][param]
            described = {k: v for k, v in prop.items() if k != "description"}
            before_described = {k: v for k, v in was.items() if k != "description"}
            if grown is not None and param in grown:
                described = _without_new_choices(described, before_described)
            assert described == before_described, (name, param)
            if (name, param) in REWORDED or (grown is not None and param in grown):
                text = prop.get("description", "")
                assert "GENAI_MCP_" not in text and not re.search(r"\{[a-z_]+\.[a-z_]+\}", text), (
                    name,
                    param,
                )
            else:
                assert prop.get("description") == was.get("description"), (name, param)


def _without_new_choices(now: dict[str, Any], was: dict[str, Any]) -> dict[str, Any]:
    """`now` with its enum (or its items' enum) cut back to the old choices, which must come first."""
    if "enum" in was:
        assert now["enum"][: len(was["enum"])] == was["enum"], (now, was)
        return {**now, "enum": was["enum"]}
    if "enum" in was.get("items", {}):
        return {**now, "items": _without_new_choices(now["items"], was["items"])}
    return now


def test_descriptions_quote_the_live_limits(tmp_path: Path) -> None:
    now = published(tmp_path, max_new_tokens=77, rag_max_k=9, max_batch=5, lora_wait_seconds=3)
    props = now["generate_text"].input_schema["properties"]
    assert "77" in props["max_new_tokens"]["description"]
    assert "at most 9" in now["rag_search"].description
    assert "At most 5 images per call" in now["classify_image"].description
    assert "default 3" in now["lora_finetune"].input_schema["properties"]["wait_seconds"]["description"]


def test_each_tool_publishes_exactly_its_request_model(tmp_path: Path) -> None:
    """No parameter is written by hand: the published schema is the request model's, rendered."""
    settings = ServerSettings(data_dir=tmp_path)
    server, tools = build_server(settings)

    async def main() -> dict[str, Any]:
        async with Client(server) as client:
            return {t.name: t.input_schema for t in (await client.list_tools()).tools}

    schemas = anyio.run(main)
    values = live_values(settings)
    assert set(tools.specs) == set(schemas)
    for name, spec in tools.specs.items():
        model = spec.request.model_json_schema()
        published = schemas[name]
        assert set(published["properties"]) == set(model.get("properties", {})), name
        assert sorted(published.get("required", [])) == sorted(model.get("required", [])), name
        for param, prop in model.get("properties", {}).items():
            if "description" in prop:
                prop = {**prop, "description": render(prop["description"], values)}
            field = spec.request.model_fields[param]
            if field.default_factory is not None:  # published with the value the factory makes
                prop = {
                    **prop,
                    "default": pydantic_core.to_jsonable_python(field.get_default(call_default_factory=True)),
                }
            assert published["properties"][param] == prop, (name, param)
