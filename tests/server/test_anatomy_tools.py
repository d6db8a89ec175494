"""inspect_model, count_parameters and attention_map through an in-memory MCP client: listed with
schemas and annotations, the seed's worked example, a house model's anatomy, heatmaps as a capped
preview plus resource links that read back, progress per image, and refusals that name the setting."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.types import BlobResourceContents, ImageContent, ResourceLink, TextContent
from PIL import Image

from genai_mcp.server.app import create_server
from genai_mcp.server.settings import ServerSettings
from genai_mcp.tools.house.digits import digit_images
from tests.helpers.images import b64, encode
from tests.helpers.results import ok, text_of

SEED = {
    "vocab_size": 100, "d_model": 32, "heads": 4, "d_ff": 64, "encoder_layers": 2, "max_positions": 10,
    "qkv_bias": False, "out_bias": False,
}  # fmt: skip
PREVIEW_MAX_BYTES = 60_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> MCPServer[Any]:
    base: Path = tmp_path_factory.mktemp("anatomy")
    settings = ServerSettings(
        data_dir=base / "data", anatomy_max_images=2, preview_max_bytes=PREVIEW_MAX_BYTES, log_level="WARNING"
    )
    return create_server(settings)


@pytest.fixture(scope="module")
def digits() -> list[str]:
    images, _ = digit_images("test")
    return [b64(encode(im)) for im in images[:3]]


def run(server: MCPServer[Any], check: Any) -> None:
    async def main() -> None:
        async with Client(server) as client:
            await check(client)

    anyio.run(main)


def test_listed_with_schemas_and_all_four_annotations(server: MCPServer[Any]) -> None:
    async def check(client: Client) -> None:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        expected = {
            "inspect_model": (True, False, True),
            "count_parameters": (True, False, True),
            "attention_map": (False, False, False),  # writes new heatmap files
        }
        for name, (read_only, destructive, idempotent) in expected.items():
            tool = tools[name]
            hints = tool.annotations
            assert hints is not None and tool.output_schema is not None, name
            assert (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint) == (
                read_only, destructive, idempotent,
            ), name  # fmt: skip
            assert hints.open_world_hint is False, name
        assert "at most 2 images" in (tools["attention_map"].description or "")
        assert "house/vit-digits" in (tools["attention_map"].description or "")
        assert set(tools["inspect_model"].input_schema["properties"]) == {
            "task", "model", "adapter", "context_length", "batch_size",
        }  # fmt: skip
        assert tools["count_parameters"].input_schema["required"] == ["d_model", "heads", "d_ff"]
        schema = tools["attention_map"].output_schema
        assert schema is not None and "distance_definition" in schema["properties"]

    run(server, check)


def test_count_parameters_and_inspect_model_answer_with_structured_figures(server: MCPServer[Any]) -> None:
    async def check(client: Client) -> None:
        count = ok(await client.call_tool("count_parameters", SEED))
        assert count["breakdown"]["total"] == 20_352
        assert [t["parameters"] for t in count["terms"]] == [3_200, 320, 4_096, 4_192, 128, 4_096, 4_192, 128]

        bad = await client.call_tool("count_parameters", {**SEED, "heads": 5})
        assert bad.is_error and "d_model 32 is not a multiple of heads 5" in text_of(bad)

        gpt2 = ok(await client.call_tool("inspect_model", {"context_length": 256, "batch_size": 8}))
        assert gpt2["model"] == "house/gpt2-pydocs" and gpt2["breakdown"]["total"] == 957_184
        assert gpt2["kv_cache"]["bytes"] == 4_096 * 256 * 8
        assert gpt2["tied"] == [{"name": "lm_head.weight", "same_as": "transformer.wte.weight"}]

        missing = await client.call_tool("inspect_model", {"adapter": "nope"})
        assert missing.is_error and "no adapter named 'nope'" in text_of(missing)

    run(server, check)


def test_attention_map_returns_a_capped_preview_and_heatmaps_that_read_back(
    server: MCPServer[Any], digits: list[str]
) -> None:
    steps: list[tuple[float, float | None]] = []

    async def progress(progress: float, total: float | None, message: str | None) -> None:
        steps.append((progress, total))

    async def check(client: Client) -> None:
        result = await client.call_tool(
            "attention_map", {"image": digits[:2], "head": 1}, progress_callback=progress
        )
        meta = ok(result)
        text, preview, *links = result.content
        assert isinstance(text, TextContent) and isinstance(preview, ImageContent)
        assert meta["head"] == 1 and meta["layer"] == 3 and len(meta["images"]) == 2
        assert (
            len(meta["mean_attention_distance"]) == 4 and meta["max_distance"] > meta["uniform_distance"] > 0
        )
        shown = base64.b64decode(preview.data)
        assert len(shown) <= PREVIEW_MAX_BYTES and len(shown) == meta["preview"]["bytes"]
        assert len(links) == 2 and all(isinstance(link, ResourceLink) for link in links)
        for link, stored in zip(links, meta["heatmaps"], strict=True):
            assert isinstance(link, ResourceLink) and link.uri == stored["uri"]
            content = (await client.read_resource(link.uri)).contents[0]
            assert isinstance(content, BlobResourceContents) and content.mime_type == "image/png"
            png = Image.open(io.BytesIO(base64.b64decode(content.blob)))
            assert png.size == (stored["width"], stored["height"]) == (3 * 224 + 8, 224)

        too_many = await client.call_tool("attention_map", {"image": digits})
        assert too_many.is_error
        assert "over the limit of 2" in text_of(too_many) and "GENAI_MCP_ANATOMY_MAX_IMAGES" in text_of(
            too_many
        )
        wrong = await client.call_tool("attention_map", {"image": digits[0], "layer": 9})
        assert wrong.is_error and "layer 9 does not exist" in text_of(wrong)

    run(server, check)
    # Coalesced (server/longwork.py): increasing, ending at image 2 of 2.
    assert [s[0] for s in steps] == sorted({s[0] for s in steps}) and steps[-1] == (2, 2)
