"""Strict, friendly arguments: through MCP clients in memory, in both protocol eras, on a tool of each
seam shape (add: classify_image, retrieval_metrics; add_long: sample_images, generate_text;
add_resolving: lora_finetune's confirmation, describe_image's sampling).

Unknown names are refused naming the intended one, JSON types are strict (no "yes" for true, no "3"
for 3), nested objects follow the same rule, refusals come before any resolver asks the client
anything, and every message is one clean line per problem.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client import ClientRequestContext
from mcp.server import MCPServer
from mcp.types import (
    CallToolResult,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestParams,
    ElicitResult,
    RequestParamsMeta,
    TextContent,
    ToolAnnotations,
)
from pydantic import BaseModel, ConfigDict

from genai_mcp.server.adapters import ToolPublisher, ToolSpec
from genai_mcp.server.app import create_server
from genai_mcp.server.errors import MAX_PROBLEMS
from genai_mcp.server.settings import ServerSettings
from genai_mcp.tools.house.digits import digit_images
from tests.helpers.images import b64, encode
from tests.helpers.results import ok, text_of

MODES = ["auto", "legacy"]  # 2026-07-28 and 2025-11-25
TEXTS = ["the heron waits in the shallows at dawn and strikes at the fish."] * 4
# What pydantic's own rendering of an error says, and no message may: its model names and links.
PYDANTIC_NOISE = ("validation error for", "Arguments", "errors.pydantic.dev", "[type=", "input_value")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> MCPServer[Any]:
    base = tmp_path_factory.mktemp("strict")
    settings = ServerSettings(data_dir=base / "data", roots=[base], log_level="WARNING")
    return create_server(settings)


@pytest.fixture(scope="module")
def digit() -> str:
    return b64(encode(digit_images("test")[0][0].convert("RGB")))


class Asked:
    """Sampling and elicitation callbacks that record being called (and would answer)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def sample(
        self, context: ClientRequestContext, params: CreateMessageRequestParams
    ) -> CreateMessageResult:
        self.calls.append("sampling")
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text="a digit"), model="m"
        )

    async def elicit(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        self.calls.append("elicitation")
        return ElicitResult(action="decline")


def calls(
    server: MCPServer[Any], mode: str, *calls: tuple[str, dict[str, Any]], **client: Any
) -> list[CallToolResult]:
    """The results of `calls` (tool, arguments), made in order on one in-memory connection."""
    results: list[CallToolResult] = []

    async def main() -> None:
        async with Client(server, mode=mode, **client) as c:
            for name, arguments in calls:
                results.append(await c.call_tool(name, arguments))

    anyio.run(main)
    return results


def refused(result: CallToolResult, *words: str) -> str:
    """The text of a refusal, which must name each of `words` in one clean line."""
    assert result.is_error, result.structured_content
    text = text_of(result)
    for w in words:
        assert w in text, (w, text)
    assert "\n" not in text and not any(noise in text for noise in PYDANTIC_NOISE), text
    return text


# ---- unknown names


@pytest.mark.parametrize("mode", MODES)
def test_an_unknown_argument_is_refused_naming_the_intended_one(
    server: MCPServer[Any], mode: str, digit: str
) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("classify_image", {"image": digit, "topk": 1}, "unknown argument 'topk'; did you mean 'top_k'?"),
        ("sample_images", {"step": 2}, "unknown argument 'step'; did you mean 'steps'?"),
        (
            "lora_finetune",
            {"dataset": TEXTS, "steps": 3},
            "unknown argument 'steps'; did you mean 'max_steps'?",
        ),
        ("describe_image", {"images": digit}, "unknown argument 'images'; did you mean 'image'?"),
    ]
    asked = Asked()
    results = calls(
        server,
        mode,
        *[(n, a) for n, a, _ in cases],
        sampling_callback=asked.sample,
        elicitation_callback=asked.elicit,
    )
    for (name, _, words), result in zip(cases, results, strict=True):
        refused(result, f"Error executing tool {name}: invalid arguments: {words}")
    # describe_image also misses its image: both problems in one message, the unknown name first.
    assert text_of(results[3]).endswith("did you mean 'image'?; image: Field required")
    assert asked.calls == []  # refused before any resolver asked the client anything


@pytest.mark.parametrize("mode", MODES)
def test_a_name_close_to_nothing_lists_the_arguments_and_resolved_names_are_not_arguments(
    server: MCPServer[Any], mode: str, digit: str
) -> None:
    far, plan, reply, jobs = calls(
        server,
        mode,
        ("retrieval_metrics", {"queries": [{"retrieved": ["a"], "relevant": ["a"]}], "colour": "red"}),
        ("lora_finetune", {"dataset": TEXTS, "confirm": True, "confirmed": True}),
        ("describe_image", {"image": digit, "reply": "a seven"}),
        ("list_jobs", {"all": True}),
    )
    refused(far, "unknown argument 'colour'; the arguments are k, queries")
    refused(plan, "unknown argument 'confirmed'; did you mean 'confirm'?")  # a resolver's name
    refused(reply, "unknown argument 'reply'")
    refused(jobs, "unknown argument 'all'; this tool takes no arguments")


def test_many_or_huge_unknown_names_make_a_bounded_message(server: MCPServer[Any]) -> None:
    flood = {f"extra_{i}": i for i in range(50)} | {"x" * 100_000: 1}
    (result,) = calls(
        server, "auto", ("retrieval_metrics", {"queries": [{"retrieved": ["a"], "relevant": ["a"]}], **flood})
    )
    text = refused(result, "unknown argument 'extra_0'", f"and {51 - MAX_PROBLEMS} more problems")
    assert len(text) < 2000


# ---- strict JSON types


@pytest.mark.parametrize("mode", MODES)
def test_confirm_yes_does_not_start_training(server: MCPServer[Any], mode: str) -> None:
    asked = Asked()
    *answers, jobs = calls(
        server,
        mode,
        ("lora_finetune", {"dataset": TEXTS, "confirm": "yes", "max_steps": 2}),
        ("lora_finetune", {"dataset": TEXTS, "confirm": "true", "max_steps": 2}),
        ("lora_finetune", {"dataset": TEXTS, "confirm": 1, "max_steps": 2}),
        ("list_jobs", {}),
        elicitation_callback=asked.elicit,
    )
    got = ["a string", "a string", "an integer"]
    for answer, kind in zip(answers, got, strict=True):
        refused(answer, f"confirm: Input should be a valid boolean, got {kind}")
    assert ok(jobs)["jobs"] == []  # nothing was queued
    assert asked.calls == []  # and the user was never asked to confirm a plan


@pytest.mark.parametrize("mode", MODES)
def test_strings_are_not_numbers_and_numbers_are_not_booleans(
    server: MCPServer[Any], mode: str, digit: str
) -> None:
    asked = Asked()
    results = calls(
        server,
        mode,
        ("classify_image", {"image": digit, "top_k": "3"}),
        ("sample_images", {"steps": "2"}),
        ("generate_text", {"prompt": "hi", "max_new_tokens": 2.5, "use_cache": 0, "seed": True}),
        ("describe_image", {"image": digit, "top_k": "3"}),
        ("retrieval_metrics", {"queries": [{"retrieved": ["a"], "relevant": ["a"]}], "k": 1.5}),
        ("classify_image", {"image": 7}),
        sampling_callback=asked.sample,
    )
    refused(results[0], "top_k: Input should be a valid integer, got a string")
    refused(results[1], "steps: Input should be a valid integer, got a string")
    refused(
        results[2],
        "max_new_tokens: Input should be a valid integer, got a number",
        "use_cache: Input should be a valid boolean, got an integer",
        "seed: Input should be a valid integer, got a boolean",
    )
    refused(results[3], "top_k: Input should be a valid integer, got a string")
    refused(results[4], "k: Input should be a valid integer, got a number")
    refused(results[5], "image: Input should be a valid string, got an integer")
    assert asked.calls == []  # describe_image refused before it sampled


@pytest.mark.parametrize("mode", MODES)
def test_nested_objects_follow_the_same_rules(server: MCPServer[Any], mode: str) -> None:
    chat, docs, labelled = calls(
        server,
        mode,
        ("generate_text", {"messages": [{"role": "User", "content": 3, "nmae": "bob"}]}),
        ("rag_index", {"collection": "c", "documents": [{"text": 5}, {"id": 3, "text": "ok"}]}),
        (
            "lora_finetune",
            {"task": "image-classification", "dataset": [{"image": "a.png", "label": 3}], "confirm": True},
        ),
    )
    refused(
        chat,
        "messages.0.role: Input should be 'system', 'user' or 'assistant'",
        "messages.0.content: Input should be a valid string, got an integer",
        "messages.0.nmae: unknown field",
    )
    refused(
        docs,
        "documents.0.text: Input should be a valid string, got an integer",
        "documents.1.id: Input should be a valid string, got an integer",
    )
    # A union (texts, labelled images or a path): the places are named, not the member types tried.
    text = refused(labelled, "dataset.0.label: Input should be a valid string, got an integer")
    assert "LabelledImage" not in text and "list[" not in text


@pytest.mark.parametrize("mode", MODES)
def test_what_json_does_not_tell_apart_is_accepted_with_meta_and_progress(
    server: MCPServer[Any], mode: str
) -> None:
    reported: list[float] = []
    meta = RequestParamsMeta(trace="t-1")  # type: ignore[typeddict-unknown-key]  # an open map

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reported.append(progress)

    async def main() -> tuple[CallToolResult, ...]:
        async with Client(server, mode=mode) as c:
            queries = [{"retrieved": ["a", "b"], "relevant": {"b": 2}}]  # graded relevance: ints as numbers
            integral = await c.call_tool("retrieval_metrics", {"queries": queries, "k": 2.0}, meta=meta)
            # The SDK's one leniency: an array sent as JSON text where no string is expected.
            as_text = await c.call_tool("retrieval_metrics", {"queries": json.dumps(queries), "k": 2})
            sampled = await c.call_tool(
                "sample_images", {"num_images": 1, "steps": 2.0, "seed": 1}, progress_callback=on_progress
            )
            return integral, as_text, sampled

    integral, as_text, sampled = anyio.run(main)
    assert ok(integral)["ks"] == [2] and ok(integral) == ok(as_text)
    assert ok(sampled)["steps"] == 2
    assert reported  # the request's _meta (a progress token here) is not an argument


# ---- the SDK's own validation, in the same form


class Colour(enum.Enum):
    RED = "red"


class Paint(BaseModel):
    # Strict in Python mode wants an enum member, not its JSON value: the strict JSON check accepts
    # "red", the SDK's validation then refuses it. Such a model is a mistake; its message still reads clean.
    model_config = ConfigDict(strict=True)
    colour: Colour


class PaintRequest(BaseModel):
    paint: Paint


class Painted(BaseModel):
    ok: bool


@pytest.mark.parametrize("mode", MODES)
def test_the_sdks_own_validation_errors_read_the_same(mode: str) -> None:
    server: MCPServer[Any] = MCPServer("paint", log_level="CRITICAL")
    spec = ToolSpec("paint", "Paint", "paints", PaintRequest, Painted, ToolAnnotations())
    ToolPublisher(server, {}).add(spec, lambda request: Painted(ok=True))
    (result,) = calls(server, mode, ("paint", {"paint": {"colour": "red"}}))
    refused(
        result,
        "Error executing tool paint: invalid arguments: paint.colour: Input should be an instance of Colour",
    )


def test_a_tool_name_is_published_once(tmp_path: Path) -> None:
    server: MCPServer[Any] = MCPServer("twice", log_level="CRITICAL")
    tools = ToolPublisher(server, {})
    spec = ToolSpec("paint", "Paint", "paints", PaintRequest, Painted, ToolAnnotations())
    tools.add(spec, lambda request: Painted(ok=True))
    with pytest.raises(ValueError, match="a tool named 'paint' is already registered"):
        tools.add(spec, lambda request: Painted(ok=False))
