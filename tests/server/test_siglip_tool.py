"""zero_shot_classify over MCP (in memory) with a SigLIP folder built here: the published result
schema says which normalisation, the call returns the model's own sigmoids, a wrong model is a
clear tool error."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer
from PIL import Image

from genai_mcp.server.app import create_server
from genai_mcp.server.settings import ServerSettings
from genai_mcp.tools.house import house_model
from tests.helpers.checkpoints import direct_siglip_probabilities, save_siglip
from tests.helpers.images import b64, encode, noise_png
from tests.helpers.results import ok, run_client, text_of

LABELS = ["cat", "dog", "a red car"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> MCPServer[Any]:
    settings = ServerSettings(data_dir=tmp_path_factory.mktemp("data"), log_level="WARNING")
    return create_server(settings)


def test_siglip_through_the_tool(server: MCPServer[Any], tmp_path: Path) -> None:
    folder = save_siglip(tmp_path / "siglip")
    images = [Image.open(io.BytesIO(noise_png(20, 20, seed=i))).convert("RGB") for i in range(2)]
    specs = [b64(encode(im)) for im in images]
    expected = direct_siglip_probabilities(folder, images, [f"a photo of {label}" for label in LABELS])

    async def check(client: Client) -> None:
        tool = next(t for t in (await client.list_tools()).tools if t.name == "zero_shot_classify")
        assert tool.output_schema is not None
        assert tool.output_schema["properties"]["normalization"]["enum"] == ["softmax", "sigmoid"]
        assert "SigLIP" in (tool.description or "")

        args = {"image": specs, "labels": LABELS, "model": str(folder)}
        result = ok(await client.call_tool("zero_shot_classify", args))
        assert result["normalization"] == "sigmoid"
        for row, want in zip(result["results"], expected, strict=True):
            assert [s["probability"] for s in row["scores"]] == pytest.approx(want, abs=1e-5)

        clip = ok(await client.call_tool("zero_shot_classify", {"image": specs[0], "labels": ["one", "two"]}))
        assert clip["normalization"] == "softmax"

        wrong = {"image": specs[0], "labels": LABELS, "model": str(house_model("house/vit-digits").path)}
        refused = await client.call_tool("zero_shot_classify", wrong)
        assert refused.is_error
        message = text_of(refused)
        assert "not a checkpoint for zero-shot-image-classification" in message
        assert "CLIPModel, SiglipModel" in message

    run_client(server, check)
