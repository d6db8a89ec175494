"""The server's prompts through in-memory clients of both protocol eras.

Listing and rendering with arguments; every tool call a prompt asks for names a tool of tools/list
with arguments that validate against its input schema, and every `tool.field` it mentions is in
that tool's output schema (so prompts cannot drift from the tools); bad arguments are clear
INVALID_PARAMS errors and the next good request works.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # (mcp's dependency; no stubs installed)
import pytest
from mcp import Client, MCPError
from mcp.server import MCPServer
from mcp.types import INVALID_PARAMS, TextContent, Tool

from genai_mcp.server.app import create_server
from genai_mcp.server.settings import ServerSettings
from tests.helpers.results import run_client
from tests.helpers.workspace import rag_collection, saved_output, trained_job

MODES = ["legacy", "auto"]
PROMPTS = {
    "evaluate_text",
    "ask_collection",
    "describe_an_image",
    "plan_lora_finetune",
    "review_training_job",
}


@dataclass
class Setup:
    server: MCPServer[Any]
    settings: ServerSettings
    job_id: str
    adapter: str
    image_uri: str


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    base = tmp_path_factory.mktemp("prompts")
    settings = ServerSettings(data_dir=base / "data", log_level="WARNING", rag_max_query_chars=200)
    rag_collection(
        settings, "birds", {"herons.md": ["Herons fish at dusk."], "owls.md": ["Owls hunt at night."]}
    )
    image = saved_output(settings)
    server = create_server(settings)
    job: dict[str, Any] = {}

    async def train(client: Client) -> None:
        job.update(await trained_job(client, "heron"))

    run_client(server, train)
    return Setup(server, settings, job["job_id"], job["adapter"], image.uri)


def text_of(result: Any) -> str:
    (message,) = result.messages
    assert message.role == "user" and isinstance(message.content, TextContent)
    text: str = message.content.text
    return text


def samples(setup: Setup) -> dict[str, list[dict[str, str]]]:
    """Arguments to render every prompt with: the required ones alone, and every argument given."""
    return {
        "evaluate_text": [
            {
                "candidates": "the heron fishes\nowls hunt",
                "references": "a heron fishes ||| the heron fishes\nowls hunt",
            },
            {"candidates": "the heron fishes", "references": "a heron fishes", "kind": "summary"},
            {"candidates": "the heron fishes", "references": "a heron fishes", "kind": "both"},
        ],
        "ask_collection": [
            {"collection": "birds", "question": "When do herons fish?"},
            {"collection": "birds", "question": "When do herons fish?", "k": "3"},
        ],
        "describe_an_image": [
            {"image": setup.image_uri},
            {
                "image": setup.image_uri,
                "labels": "a heron, an owl",
                "classifier_model": "house/vit-digits",
                "zero_shot_model": "house/clip-digits",
            },
        ],
        "plan_lora_finetune": [
            {"task": "causal-lm", "dataset": "herons.txt"},
            {
                "task": "image-classification",
                "dataset": "birds",
                "base_model": "house/vit-digits",
                "name": "birds-v1",
                "max_steps": "30",
            },
        ],
        "review_training_job": [{"job_id": setup.job_id}],
    }


# ---- listing and rendering


@pytest.mark.parametrize("mode", MODES)
def test_prompts_are_listed_with_described_arguments(setup: Setup, mode: str) -> None:
    async def check(client: Client) -> None:
        assert client.server_capabilities.prompts is not None
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert set(prompts) == PROMPTS
        for prompt in prompts.values():
            assert prompt.title and prompt.description and prompt.arguments
            assert all(a.description for a in prompt.arguments)
        required = {p.name: {a.name for a in p.arguments or [] if a.required} for p in prompts.values()}
        assert required["evaluate_text"] == {"candidates", "references"}
        assert required["ask_collection"] == {"collection", "question"}
        assert required["plan_lora_finetune"] == {"task", "dataset"}
        assert required["review_training_job"] == {"job_id"}

    run_client(setup.server, check, mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_prompts_render_their_arguments_into_tool_calls(setup: Setup, mode: str) -> None:
    async def check(client: Client) -> None:
        text = text_of(
            await client.get_prompt(
                "evaluate_text",
                {
                    "candidates": "the heron fishes\nowls hunt",
                    "references": "a heron fishes ||| the heron fishes\nowls",
                },
            )
        )
        assert calls(text)[0] == (
            "text_metrics",
            {
                "candidates": ["the heron fishes", "owls hunt"],
                "references": [["a heron fishes", "the heron fishes"], ["owls"]],
                "metrics": ["bleu", "chrf"],
            },
        )

        text = text_of(
            await client.get_prompt("ask_collection", {"collection": "birds", "question": "Who hunts?"})
        )
        assert "Question: Who hunts?" in text
        assert calls(text)[0] == ("rag_answer", {"collection": "birds", "question": "Who hunts?", "k": 5})

        text = text_of(
            await client.get_prompt("describe_an_image", {"image": setup.image_uri, "labels": "heron, owl"})
        )
        assert calls(text)[0] == ("describe_image", {"image": setup.image_uri, "labels": ["heron", "owl"]})

        text = text_of(
            await client.get_prompt("plan_lora_finetune", {"task": "causal-lm", "dataset": "herons.txt"})
        )
        first, with_confirm = calls(text)[:2]
        assert first == ("lora_finetune", {"task": "causal-lm", "dataset": "herons.txt"})
        assert with_confirm == (
            "lora_finetune",
            {"task": "causal-lm", "dataset": "herons.txt", "confirm": True},
        )

        # The job's own task and adapter, read from this server's jobs.
        text = text_of(await client.get_prompt("review_training_job", {"job_id": setup.job_id}))
        assert calls(text)[0] == ("job_status", {"job_id": setup.job_id})
        tried = [args for tool, args in calls(text) if tool == "generate_text"]
        assert tried[0]["adapter"] == setup.adapter and "adapter" not in tried[1]

    run_client(setup.server, check, mode=mode)


# ---- prompts and tools agree


def calls(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Every "`tool` with {json}" in a prompt's text, in order."""
    found = []
    decoder = json.JSONDecoder()
    for match in re.finditer(r"`([a-z_]+)` with (?=\{)", text):
        args, _ = decoder.raw_decode(text, match.end())
        found.append((match.group(1), args))
    return found


def has_path(schema: dict[str, Any], path: list[str], defs: dict[str, Any]) -> bool:
    """Whether the dotted field path exists in a JSON schema (through $ref, anyOf and array items)."""
    if "$ref" in schema:
        return has_path(defs[schema["$ref"].rsplit("/", 1)[-1]], path, defs)
    if not path:
        return True
    alternatives = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    if schema.get("type") == "array":
        alternatives.append(schema.get("items", {}))
    if any(has_path(s, path, defs) for s in alternatives):
        return True
    field = schema.get("properties", {}).get(path[0])
    return field is not None and has_path(field, path[1:], defs)


def test_every_tool_argument_and_field_a_prompt_names_exists(setup: Setup) -> None:
    async def check(client: Client) -> None:
        tools: dict[str, Tool] = {t.name: t for t in (await client.list_tools()).tools}
        named: set[str] = set()
        for prompt, argument_sets in samples(setup).items():
            for arguments in argument_sets:
                text = text_of(await client.get_prompt(prompt, arguments))
                assert calls(text), f"{prompt} names no tool call"
                for tool, args in calls(text):
                    assert tool in tools, f"{prompt} calls {tool}, which tools/list lacks"
                    properties = tools[tool].input_schema["properties"]
                    assert set(args) <= set(properties), (
                        f"{prompt}: {tool} has no {set(args) - set(properties)}"
                    )
                    jsonschema.validate(args, tools[tool].input_schema)
                    named.add(tool)
                for tool, path in re.findall(r"\b([a-z_]+)\.([A-Za-z_][A-Za-z0-9_.]*[A-Za-z0-9_])", text):
                    if tool in tools:
                        schema = tools[tool].output_schema
                        assert schema is not None, tool
                        assert has_path(schema, path.split("."), schema.get("$defs", {})), (
                            f"{prompt} names {tool}.{path}, which {tool}'s output schema lacks"
                        )
        assert {
            "text_metrics",
            "rag_answer",
            "rag_search",
            "describe_image",
            "lora_finetune",
            "job_status",
        } <= named

    run_client(setup.server, check)


def test_the_path_check_refuses_a_field_a_tool_does_not_have() -> None:
    schema: dict[str, Any] = {
        "properties": {"job": {"anyOf": [{"$ref": "#/$defs/Job"}, {"type": "null"}]}},
        "$defs": {"Job": {"properties": {"steps": {"type": "array", "items": {"properties": {"loss": {}}}}}}},
    }
    assert has_path(schema, ["job", "steps", "loss"], schema["$defs"])
    assert not has_path(schema, ["job", "step"], schema["$defs"])
    assert not has_path(schema, ["jobs"], schema["$defs"])


# ---- refusals


def refused(problem: str) -> Any:
    return pytest.raises(MCPError, match=problem)


@pytest.mark.parametrize("mode", MODES)
def test_bad_arguments_are_clear_errors_and_the_server_goes_on(setup: Setup, mode: str) -> None:
    async def check(client: Client) -> None:
        async def get(name: str, arguments: dict[str, str]) -> None:
            await client.get_prompt(name, arguments)

        with refused(r"prompt ask_collection: the argument 'question' is required: The question") as info:
            await get("ask_collection", {"collection": "birds"})
        assert info.value.code == INVALID_PARAMS
        with refused(r"the argument 'question' is required"):
            await get("ask_collection", {"collection": "birds", "question": "   "})
        with refused(r"unknown argument 'colection'; did you mean 'collection'\?"):
            await get("ask_collection", {"colection": "birds", "question": "q"})
        with refused(r"there is no collection 'fish'; collections: birds"):
            await get("ask_collection", {"collection": "fish", "question": "q"})
        with refused(r"'Birds!' is not a collection name"):
            await get("ask_collection", {"collection": "Birds!", "question": "q"})
        with refused(
            r"question is 201 characters, over the limit of 200 \(rag.max_query_chars, GENAI_MCP_RAG_MAX_QUERY_CHARS\)"
        ):
            await get("ask_collection", {"collection": "birds", "question": "q" * 201})
        with refused(
            r"k must be a whole number from 1 to 50 \(rag.max_k, GENAI_MCP_RAG_MAX_K\), not 'three'"
        ):
            await get("ask_collection", {"collection": "birds", "question": "q", "k": "three"})
        with refused(r"k must be a whole number from 1 to 50"):
            await get("ask_collection", {"collection": "birds", "question": "q", "k": "0"})
        with refused(r"2 candidate line\(s\) but 1 reference line\(s\)"):
            await get("evaluate_text", {"candidates": "a\nb", "references": "a"})
        with refused(r"reference line 2 has no text between the '\|\|\|' separators"):
            await get("evaluate_text", {"candidates": "a\nb", "references": "a\n ||| "})
        with refused(r"kind must be one of translation, summary, both, not 'poem'"):
            await get("evaluate_text", {"candidates": "a", "references": "a", "kind": "poem"})
        with refused(r"task must be one of causal-lm, image-classification, not 'chat'"):
            await get("plan_lora_finetune", {"task": "chat", "dataset": "x.txt"})
        with refused(r"an adapter named 'heron' already exists: choose a new name"):
            await get("plan_lora_finetune", {"task": "causal-lm", "dataset": "x.txt", "name": "heron"})
        with refused(r"name '-x' is not an adapter name"):
            await get("plan_lora_finetune", {"task": "causal-lm", "dataset": "x.txt", "name": "-x"})
        with refused(r"labels has no label"):
            await get("describe_an_image", {"image": setup.image_uri, "labels": " , "})
        with refused(r"no job 'lora-00000000'"):
            await get("review_training_job", {"job_id": "lora-00000000"})
        with refused(r"job_id is 101 characters, over the limit of 100"):
            await get("review_training_job", {"job_id": "j" * 101})
        with refused(r"unknown prompt 'ask_colection'; did you mean 'ask_collection'\?") as info:
            await get("ask_colection", {"collection": "birds", "question": "q"})
        assert info.value.code == INVALID_PARAMS
        with refused(r"unknown prompt 'zzz'; prompts: evaluate_text, ask_collection, describe_an_image"):
            await get("zzz", {})
        # The server is still up and the same prompt renders with good arguments.
        text = text_of(
            await client.get_prompt("ask_collection", {"collection": "birds", "question": "q", "k": "50"})
        )
        assert calls(text)[0][1]["k"] == 50

    run_client(setup.server, check, mode=mode)


def test_a_prompt_reads_the_state_of_its_own_server(setup: Setup, tmp_path: Path) -> None:
    """Another server (its own data folder) has neither the collection nor the job."""
    other = create_server(ServerSettings(data_dir=tmp_path / "other", log_level="WARNING"))

    async def check(client: Client) -> None:
        with refused(r"there is no collection 'birds'; collections: none yet"):
            await client.get_prompt("ask_collection", {"collection": "birds", "question": "q"})
        with refused(rf"no job '{setup.job_id}'"):
            await client.get_prompt("review_training_job", {"job_id": setup.job_id})

    run_client(other, check)
