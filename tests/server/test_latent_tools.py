"""The latent tools through an in-memory MCP client. The real-size path (issue 16, part 5): a Stable
Diffusion-shaped checkpoint (CLIP text encoder with a 77-token tokenizer, 8x VAE, SD-1.x UNet blocks,
random weights) runs text-to-image, image-to-image, encode/decode and interpolation through the tools,
with its default size, progress notifications and cancellation within a step; then schemas,
annotations, refusals naming their settings, and the house LDM as the default."""

from __future__ import annotations

import base64
import io
import logging
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest
from mcp import Client
from mcp.types import BlobResourceContents, CallToolResult, ImageContent, ResourceLink, TextContent
from PIL import Image

from genai_mcp.server.app import create_server
from genai_mcp.server.settings import ServerSettings
from genai_mcp.tools.house import HOUSE_MODELS
from tests.helpers.images import b64, encode
from tests.helpers.results import text_of
from tests.helpers.sd_checkpoint import SD_IMAGE_SIDE

TOOLS = (
    "generate_image",
    "edit_image",
    "encode_image",
    "decode_latent",
    "interpolate_images",
    "latent_arithmetic",
)


@pytest.fixture
def settings(tmp_path: Path) -> ServerSettings:
    return ServerSettings(data_dir=tmp_path, roots=[tmp_path])


def png(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


async def read_link(client: Client, link: ResourceLink) -> Image.Image:
    content = (await client.read_resource(link.uri)).contents[0]
    assert isinstance(content, BlobResourceContents) and content.mime_type == "image/png"
    return png(base64.b64decode(content.blob))


def blocks(result: CallToolResult) -> tuple[dict[str, Any], ImageContent, list[ResourceLink]]:
    assert not result.is_error, text_of(result)
    text, preview, *links = result.content
    assert isinstance(text, TextContent) and isinstance(preview, ImageContent)
    assert all(isinstance(link, ResourceLink) for link in links) and result.structured_content is not None
    return result.structured_content, preview, links  # type: ignore[return-value]


def test_the_real_size_path_through_the_tools(settings: ServerSettings, sd_checkpoint: str) -> None:
    async def main() -> None:
        async with Client(create_server(settings)) as client:
            reports: list[tuple[float, float | None]] = []

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                reports.append((progress, total))

            args = {"prompt": "a photo of the digit three", "steps": 6, "num_images": 2, "seed": 5}
            result = await client.call_tool(
                "generate_image",
                {**args, "model": sd_checkpoint, "scheduler": "ddim"},
                progress_callback=on_progress,
            )
            meta, preview, links = blocks(result)
            assert (
                (meta["width"], meta["height"])
                == (SD_IMAGE_SIDE, SD_IMAGE_SIDE)
                == tuple(meta["default_size"])
            )
            assert (
                meta["seeds"] == [5, 6] and meta["steps"] == 6 and meta["prompt_tokens"]["max_tokens"] == 77
            )
            assert reports[-1] == (6, 6) and [r[0] for r in reports] == sorted({r[0] for r in reports})
            assert len(base64.b64decode(preview.data)) <= settings.preview_max_bytes
            assert [(await read_link(client, link)).size for link in links] == [(64, 64)] * 2

            # image-to-image on a produced image, by its URI
            reports.clear()
            edit = {
                "image": links[0].uri,
                "prompt": "seven",
                "strength": 0.5,
                "steps": 8,
                "model": sd_checkpoint,
            }
            meta, _, edit_links = blocks(
                await client.call_tool(
                    "edit_image", {**edit, "scheduler": "ddim"}, progress_callback=on_progress
                )
            )
            assert meta["pipeline_class"] == "StableDiffusionImg2ImgPipeline" and reports[-1] == (4, 4)
            assert (meta["input_width"], meta["width"]) == (64, 64) and len(edit_links) == 2

            # encode -> decode: the mean decodes to the reconstruction
            path = settings.data_dir / "photo.png"
            Image.new("RGB", (80, 60), (20, 120, 220)).save(path)
            meta, _, enc_links = blocks(
                await client.call_tool("encode_image", {"image": str(path), "model": sd_checkpoint})
            )
            assert meta["shape"] == [4, 8, 8] and meta["kl_to_prior"] >= 0 and meta["input_width"] == 80
            written = sorted(p.name.rsplit("-", 1)[0] for p in settings.outputs_dir.glob("vae-*.png"))
            assert len(enc_links) == 2 and written == ["vae-input", "vae-output"]  # a file each, once
            decoded, _, dec_links = blocks(
                await client.call_tool("decode_latent", {"latent": meta["mean"], "model": sd_checkpoint})
            )
            assert (decoded["width"], decoded["shape"]) == (64, [4, 8, 8])
            rebuilt, again = await read_link(client, enc_links[1]), await read_link(client, dec_links[0])
            diff = np.abs(np.asarray(rebuilt, np.int16) - np.asarray(again, np.int16))
            assert diff.max() <= 1

            # interpolation: a strip and a file per frame, progress per frame
            reports.clear()
            pair = {
                "image_a": str(path),
                "image_b": links[1].uri,
                "frames": 4,
                "method": "spherical",
                "model": sd_checkpoint,
            }
            meta, _, frame_links = blocks(
                await client.call_tool("interpolate_images", pair, progress_callback=on_progress)
            )
            assert meta["frames"] == 4 and len(meta["images"]) == 4 and reports[-1] == (4, 4)
            assert (await read_link(client, frame_links[0])).size == (4 * 65 - 1, 64)  # the strip first
            assert [(await read_link(client, link)).size for link in frame_links[1:]] == [(64, 64)] * 4

            arithmetic = {
                "image": str(path),
                "set_a": [links[0].uri],
                "set_b": [links[1].uri],
                "alphas": [0, 1],
                "model": sd_checkpoint,
            }
            meta, _, _ = blocks(await client.call_tool("latent_arithmetic", arithmetic))
            assert meta["alphas"] == [0.0, 1.0] and meta["direction_norm"] > 0

    anyio.run(main)


class StopLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "generate_image stopped" in record.getMessage():
            self.messages.append(record.getMessage())
            self.seen.set()


@pytest.fixture
def stop_log(caplog: pytest.LogCaptureFixture) -> Iterator[StopLog]:
    name = "genai_mcp.server.diffusion_tools"  # where the image tools' logged_run lives
    handler = StopLog()
    with caplog.at_level(logging.INFO, logger=name):
        logging.getLogger(name).addHandler(handler)
        yield handler
        logging.getLogger(name).removeHandler(handler)


def test_cancel_stops_within_a_step_and_the_next_call_works(
    settings: ServerSettings, sd_checkpoint: str, stop_log: StopLog
) -> None:
    async def main() -> None:
        async with Client(create_server(settings)) as client:
            third = anyio.Event()

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                if progress >= 3:
                    third.set()

            args = {
                "prompt": "three",
                "steps": 150,
                "num_images": 2,
                "model": sd_checkpoint,
                "scheduler": "ddim",
            }
            async with anyio.create_task_group() as tg:

                async def call() -> None:
                    await client.call_tool("generate_image", args, progress_callback=on_progress)

                tg.start_soon(call)
                await third.wait()
                tg.cancel_scope.cancel()
            assert await anyio.to_thread.run_sync(stop_log.seen.wait, 20), "the worker never said it stopped"
            done = int(stop_log.messages[0].split("after ")[1].split(" of ")[0])
            assert 3 <= done < 150
            result = await client.call_tool("generate_image", {**args, "steps": 2})
            assert result.structured_content is not None and result.structured_content["steps"] == 2

    anyio.run(main)


def test_listed_with_schemas_annotations_and_refusals_that_name_settings(
    settings: ServerSettings, sd_checkpoint: str
) -> None:
    settings.latent_max_prompt_chars = 30

    async def main() -> None:
        async with Client(create_server(settings)) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            for name in TOOLS:
                hints = tools[name].annotations
                assert hints is not None and tools[name].output_schema is not None
                assert (
                    hints.read_only_hint,
                    hints.destructive_hint,
                    hints.idempotent_hint,
                    hints.open_world_hint,
                ) == (
                    False,
                    False,
                    False,
                    False,
                )
            assert "seeds" in tools["generate_image"].output_schema["properties"]  # type: ignore[index]
            assert "house/ldm-digits" in (tools["generate_image"].description or "")
            assert tools["edit_image"].input_schema["required"] == ["prompt", "image"]

            async def refusal(tool: str, args: dict[str, Any]) -> str:
                result = await client.call_tool(tool, {"model": sd_checkpoint, **args})
                assert result.is_error
                return text_of(result)

            assert "width is 60; it must be a multiple of 8" in await refusal(
                "generate_image", {"prompt": "x", "width": 60}
            )
            assert "GENAI_MCP_LATENT_MAX_STEPS" in await refusal(
                "generate_image", {"prompt": "x", "steps": 151}
            )
            assert "GENAI_MCP_LATENT_MAX_PROMPT_CHARS" in await refusal(
                "generate_image", {"prompt": "x" * 31}
            )
            image = b64(encode(Image.new("RGB", (16, 16))))
            frames = {"image_a": image, "image_b": image, "frames": 33}
            assert "GENAI_MCP_LATENT_MAX_FRAMES" in await refusal("interpolate_images", frames)
            assert "unknown argument" in await refusal("generate_image", {"prompt": "x", "step": 3})
            for tool, args in (("generate_image", {"prompt": "x"}), ("encode_image", {"image": image})):
                offline = await refusal(tool, {**args, "model": "stabilityai/sd-turbo"})  # nothing downloads
                assert (
                    "not in the local Hugging Face cache" in offline
                    and "GENAI_MCP_ALLOW_DOWNLOADS" in offline
                )
            many = {
                "image": image,
                "set_a": ["not an image"] * 17,
                "set_b": [image],
            }  # refused before decoding
            assert "GENAI_MCP_LATENT_MAX_SET_IMAGES" in await refusal("latent_arithmetic", many)
            assert "equal lengths" in await refusal(
                "decode_latent", {"latent": [[[0.0, 1.0]], [[0.0]], [[0.0]], [[0.0]]]}
            )
            # The house LDM is the default model of every latent tool.
            meta, _, _ = blocks(
                await client.call_tool("generate_image", {"prompt": "a handwritten digit two", "steps": 3})
            )
            assert meta["model"] == "house/ldm-digits" and (meta["width"], meta["height"]) == (16, 16)
            meta, _, _ = blocks(await client.call_tool("encode_image", {"image": image}))
            assert meta["model"] == "house/ldm-digits" and meta["shape"] == [4, 4, 4]
            # Eight 16 px frames in a row: the strip's preview is grown to be seen (3x, 405 x 48 px).
            strip = {"image_a": image, "image_b": image, "frames": 8}
            meta, preview, _ = blocks(await client.call_tool("interpolate_images", strip))
            assert (meta["strip"]["width"], meta["strip"]["height"]) == (8 * 17 - 1, 16)
            assert png(base64.b64decode(preview.data)).size == (405, 48) == (meta["preview"]["width"], 48)

    anyio.run(main)


def test_the_outputs_kept_hold_one_calls_frames() -> None:
    with pytest.raises(ValueError, match=r"OUTPUTS_MAX_FILES \(20\) must be at least 33") as err:
        ServerSettings(outputs_max_files=20, max_num_images=8)
    assert "GENAI_MCP_LATENT_MAX_FRAMES (32)" in str(err.value)
    assert (
        ServerSettings(outputs_max_files=20, latent_max_frames=10, max_num_images=8).outputs_max_files == 20
    )


def test_the_latent_default_is_a_setting(
    tmp_path: Path, sd_checkpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    image = b64(encode(Image.new("RGB", (64, 64))))
    wrong = shutil.copytree(HOUSE_MODELS["house/ddpm-digits"].path, tmp_path / "a-ddpm")
    caplog.set_level(logging.WARNING, logger="genai_mcp.server.state")

    async def main() -> None:
        async with Client(
            create_server(ServerSettings(data_dir=tmp_path / "a", latent_model=str(wrong)))
        ) as client:
            (line,) = [r.getMessage() for r in caplog.records if r.name == "genai_mcp.server.state"]
            assert (
                "GENAI_MCP_LATENT_MODEL" in line and "without a VAE, not a latent-diffusion pipeline" in line
            )
            for tool, args in (
                ("generate_image", {"prompt": "x", "steps": 2}),
                ("encode_image", {"image": image}),
            ):
                failed = await client.call_tool(tool, args)
                assert failed.is_error and "(see GENAI_MCP_LATENT_MODEL)" in text_of(failed), text_of(failed)
        async with Client(
            create_server(ServerSettings(data_dir=tmp_path / "b", latent_model=sd_checkpoint))
        ) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert sd_checkpoint in (tools["generate_image"].description or "")
            meta, _, _ = blocks(await client.call_tool("generate_image", {"prompt": "x", "steps": 2}))
            assert meta["model"] == str(Path(sd_checkpoint).resolve()) and meta["width"] == 64
            meta, _, _ = blocks(await client.call_tool("encode_image", {"image": image}))
            assert meta["shape"] == [4, 8, 8]

    anyio.run(main)
