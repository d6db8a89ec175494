"""The vision tools through MCP clients: in memory (both protocol eras) and over a real stdio process.

House models are loaded once per process (the model cache is process-wide); the server is built once
per module with small limits, a root folder and its own data folder.
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client import ClientRequestContext
from mcp.server import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ErrorData,
    ImageContent,
    TextContent,
)
from PIL import Image

from genai_mcp.server.app import create_server
from genai_mcp.server.settings import ServerSettings
from genai_mcp.server.state import OUTPUT_URI_PREFIX
from genai_mcp.tools.house.digits import DIGIT_NAMES, digit_images
from genai_mcp.tools.outputs import OutputStore
from tests.helpers.images import animated_gif, b64, encode, png_header_only
from tests.helpers.processes import server_env
from tests.helpers.results import ok, run_client, text_of

MAX_IMAGE_BYTES = 50_000
SAMPLED = "The image most likely shows a handwritten seven."


@dataclass
class Setup:
    server: MCPServer[Any]
    settings: ServerSettings
    root: Path
    outside: Path
    specs: list[str]  # the first 100 held-out digits as PNG base64
    labels: list[int]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    base = tmp_path_factory.mktemp("vision")
    root, outside = base / "root", base / "outside"
    root.mkdir()
    outside.mkdir()
    images, labels = digit_images("test")
    images[0].save(root / "seven.png")
    (outside / "secret.png").write_bytes(encode(images[1]))
    os.symlink(outside / "secret.png", root / "escape.png")
    noise = Image.frombytes("RGB", (160, 160), os.urandom(160 * 160 * 3))
    (root / "huge.png").write_bytes(encode(noise))
    assert (root / "huge.png").stat().st_size > MAX_IMAGE_BYTES
    settings = ServerSettings(
        data_dir=base / "data", roots=[root], max_image_bytes=MAX_IMAGE_BYTES, log_level="WARNING"
    )
    specs = [b64(encode(im)) for im in images[:100]]
    return Setup(create_server(settings), settings, root, outside, specs, labels[:100])


def run(setup: Setup, check: Callable[[Client], Awaitable[None]], **client: Any) -> None:
    run_client(setup.server, check, **client)


def top_labels(content: dict[str, Any]) -> list[str]:
    return [r["labels"][0]["label"] for r in content["results"]]


async def accuracy(client: Client, specs: list[str], labels: list[int]) -> tuple[int, int]:
    """(ViT correct, CLIP correct) over `specs`, sent in batches of 50 (the default limit is 64)."""
    vit = clip = 0
    for start in range(0, len(specs), 50):
        chunk, truth = specs[start : start + 50], labels[start : start + 50]
        classified = ok(await client.call_tool("classify_image", {"image": chunk, "top_k": 1}))
        vit += sum(label == str(y) for label, y in zip(top_labels(classified), truth, strict=True))
        zero_shot = ok(
            await client.call_tool("zero_shot_classify", {"image": chunk, "labels": list(DIGIT_NAMES)})
        )
        clip += sum(
            r["best_label"] == DIGIT_NAMES[y] for r, y in zip(zero_shot["results"], truth, strict=True)
        )
    return vit, clip


# ---- listing


def test_tools_have_output_schemas_and_every_annotation(setup: Setup) -> None:
    async def check(client: Client) -> None:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        expected = {
            "classify_image": (True, False, True, False),
            "zero_shot_classify": (True, False, True, False),
            "describe_image": (True, False, False, True),
        }
        for name, hints in expected.items():
            tool = tools[name]
            a = tool.annotations
            assert a is not None
            assert (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint) == hints
            assert tool.output_schema is not None and tool.title and tool.description
        assert {"results", "timing", "model"} <= set(tools["classify_image"].output_schema["properties"])  # type: ignore[index]
        described = tools["describe_image"]
        assert set(described.input_schema["properties"]) == {
            "image",
            "labels",
            "templates",
            "top_k",
            "classifier_model",
            "zero_shot_model",
        }  # the resolved parameters (analysis, reply) are not arguments
        assert "description_status" in described.output_schema["properties"]  # type: ignore[index]

    run(setup, check)


# ---- results


def test_house_models_classify_100_held_out_digits_in_memory(setup: Setup) -> None:
    async def check(client: Client) -> None:
        vit, clip = await accuracy(client, setup.specs, setup.labels)
        assert vit >= 95 and clip >= 90, (vit, clip)

    run(setup, check)


def test_a_batch_call_equals_the_single_calls(setup: Setup) -> None:
    specs = setup.specs[:5]
    labels = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

    async def check(client: Client) -> None:
        for tool, args, key in (
            ("classify_image", {"top_k": 10}, "labels"),
            (
                "zero_shot_classify",
                {"labels": labels, "templates": ["a photo of {}", "a handwritten {}"]},
                "scores",
            ),
        ):
            batch = ok(await client.call_tool(tool, {"image": specs, **args}))["results"]
            for spec, together in zip(specs, batch, strict=True):
                alone = ok(await client.call_tool(tool, {"image": spec, **args}))["results"][0]
                assert [s["label"] for s in alone[key]] == [s["label"] for s in together[key]]
                assert [s["probability"] for s in alone[key]] == pytest.approx(
                    [s["probability"] for s in together[key]], abs=1e-5
                )

    run(setup, check)


def test_paths_under_the_roots_and_server_outputs_are_accepted(setup: Setup) -> None:
    outputs = OutputStore(setup.settings.outputs_dir, uri_prefix=OUTPUT_URI_PREFIX)
    saved = outputs.save_png(digit_images("test")[0][2], "sample")

    async def check(client: Client) -> None:
        for spec in ("seven.png", str(setup.root / "seven.png"), saved.uri):
            content = ok(await client.call_tool("classify_image", {"image": spec, "top_k": 1}))
            assert top_labels(content) == [str(setup.labels[0] if spec != saved.uri else setup.labels[2])]

    run(setup, check)


# ---- describe_image and sampling


async def sample_ok(context: ClientRequestContext, params: CreateMessageRequestParams) -> CreateMessageResult:
    prompt = params.messages[0].content
    assert isinstance(prompt, TextContent)
    assert "house/vit-digits" in prompt.text and "house/clip-digits" in prompt.text and "'7'" in prompt.text
    assert params.system_prompt and "one sentence" in params.system_prompt
    return CreateMessageResult(
        role="assistant", content=TextContent(type="text", text=SAMPLED), model="host-llm"
    )


async def sample_refuses(context: ClientRequestContext, params: CreateMessageRequestParams) -> ErrorData:
    return ErrorData(code=-1, message="user refused sampling")


async def sample_raises(
    context: ClientRequestContext, params: CreateMessageRequestParams
) -> CreateMessageResult:
    raise RuntimeError("the host LLM is down")


async def sample_image(
    context: ClientRequestContext, params: CreateMessageRequestParams
) -> CreateMessageResult:
    return CreateMessageResult(
        role="assistant",
        content=ImageContent(type="image", data=b64(b"x"), mime_type="image/png"),
        model="painter",
    )


@pytest.mark.parametrize(
    ("mode", "callback", "status", "note"),
    [
        ("auto", sample_ok, "produced", "host-llm"),
        ("legacy", sample_ok, "produced", "host-llm"),
        ("auto", None, "client_cannot_sample", "does not offer sampling"),
        ("legacy", None, "client_cannot_sample", "does not offer sampling"),
        ("legacy", sample_refuses, "declined", "user refused sampling"),
        ("legacy", sample_raises, "declined", "the host LLM is down"),
        ("auto", sample_image, "unusable_reply", "image content"),
    ],
)
def test_describe_image_with_and_without_sampling(
    setup: Setup, mode: str, callback: Any, status: str, note: str
) -> None:
    async def check(client: Client) -> None:
        content = ok(await client.call_tool("describe_image", {"image": setup.specs[0]}))
        assert content["description_status"] == status and note in content["description_note"]
        assert content["description"] == (SAMPLED if status == "produced" else None)
        assert top_labels(content["classification"]) == ["7"]
        assert content["zero_shot"]["results"][0]["best_label"] == "7"

    run(setup, check, mode=mode, **({"sampling_callback": callback} if callback else {}))


def test_a_2026_client_that_refuses_sampling_aborts_the_call_itself(setup: Setup) -> None:
    # On 2026-07-28 the SDK's Client turns a refusal into its own exception and never retries, so the
    # server cannot answer with the classifications; the connection stays usable.
    async def check(client: Client) -> None:
        with pytest.raises(BaseException) as caught:
            await client.call_tool("describe_image", {"image": setup.specs[0]})
        errors = caught.value.exceptions if isinstance(caught.value, BaseExceptionGroup) else [caught.value]
        assert any(isinstance(e, MCPError) and "user refused sampling" in str(e) for e in _leaves(errors))
        assert top_labels(ok(await client.call_tool("classify_image", {"image": setup.specs[0]}))) == ["7"]

    run(setup, check, sampling_callback=sample_refuses)


def _leaves(errors: Any) -> list[BaseException]:
    out: list[BaseException] = []
    for e in errors:
        out += _leaves(e.exceptions) if isinstance(e, BaseExceptionGroup) else [e]
    return out


# ---- refusals


def bad_calls(setup: Setup) -> list[tuple[str, dict[str, Any], str]]:
    one = setup.specs[0]
    return [
        ("classify_image", {"image": "@@not base64@@" * 400}, "not valid base64"),
        (
            "classify_image",
            {"image": b64(b"GIF89 but really just some text, which is not an image")},
            "not a PNG, JPEG",
        ),
        ("classify_image", {"image": b64(base64.b64decode(one)[:70])}, "corrupt or truncated"),
        (
            "classify_image",
            {"image": b64(encode(Image.new("RGB", (1, 1))))},
            "1x1 pixels; its shorter side must be at least 8",
        ),
        (
            "classify_image",
            {"image": b64(png_header_only(30000, 30000))},
            "900000000, over the limit of 40000000 (raise it with GENAI_MCP_MAX_IMAGE_PIXELS)",
        ),
        (
            "classify_image",
            {"image": "huge.png"},
            f"over the limit of {MAX_IMAGE_BYTES} (raise it with GENAI_MCP_MAX_IMAGE_BYTES)",
        ),
        (
            "classify_image",
            {"image": b64((setup.root / "huge.png").read_bytes())},
            f"over the limit of {MAX_IMAGE_BYTES}",
        ),
        ("classify_image", {"image": b64(animated_gif())}, "animated (GIF, 3 frames)"),
        ("classify_image", {"image": str(setup.outside / "secret.png")}, "outside the allowed roots"),
        ("classify_image", {"image": "../outside/secret.png"}, "contains '..'"),
        ("classify_image", {"image": "escape.png"}, "through a symlink outside the allowed roots"),
        ("classify_image", {"image": "https://example.com/seven.png"}, "GENAI_MCP_ALLOW_URL_FETCH"),
        (
            "classify_image",
            {"image": [one] * 65},
            "images in one call is 65, over the limit of 64 (raise it with GENAI_MCP_MAX_BATCH)",
        ),
        (
            "classify_image",
            {"image": one, "model": "nobody/no-such-model"},
            "not in the local Hugging Face cache",
        ),
        ("classify_image", {"image": one, "model": "house/clip-digits"}, "not a image-classification model"),
        ("classify_image", {"image": one, "top_k": 0}, "greater than or equal to 1"),
        ("zero_shot_classify", {"image": one, "labels": []}, "at least 1 item"),
        ("zero_shot_classify", {"image": one, "labels": ["seven", "Seven"]}, "labels must be distinct"),
        ("zero_shot_classify", {"image": one, "labels": ["a"], "templates": ["no slot"]}, "exactly once"),
        (
            "zero_shot_classify",
            {"image": one, "labels": ["a"], "model": "house/vit-digits"},
            "not a zero-shot-image-classification model",
        ),
        ("describe_image", {"image": "escape.png"}, "through a symlink outside the allowed roots"),
        ("describe_image", {"image": one, "labels": ["x", "X"]}, "labels must be distinct"),
    ]


def test_each_bad_input_is_a_clear_tool_error_and_the_next_good_call_works(setup: Setup) -> None:
    calls = bad_calls(setup)
    assert len(calls) >= 12

    async def check(client: Client) -> None:
        for tool, args, words in calls:
            result = await client.call_tool(tool, args)
            assert result.is_error, (tool, words)
            assert words in text_of(result), (words, text_of(result))
            assert len(text_of(result)) < 600  # no echo of the caller's megabytes
            assert top_labels(ok(await client.call_tool("classify_image", {"image": setup.specs[0]}))) == [
                "7"
            ]

    run(setup, check)


# ---- a real stdio process


def test_stdio_process_classifies_100_digits_and_describes(setup: Setup, tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "genai_mcp.server.cli", "serve", "--log-level", "WARNING"],
        env=server_env(tmp_path / "data", OMP_NUM_THREADS="1"),  # see tests/conftest.py
    )

    async def main() -> None:
        async with Client(params, sampling_callback=sample_ok) as client:
            vit, clip = await accuracy(client, setup.specs, setup.labels)
            assert vit >= 95 and clip >= 90, (vit, clip)
            content = ok(await client.call_tool("describe_image", {"image": setup.specs[0]}))
            assert (content["description"], content["description_status"]) == (SAMPLED, "produced")

    anyio.run(main)
