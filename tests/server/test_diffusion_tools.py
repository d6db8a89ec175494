"""sample_images and denoise_image through an in-memory MCP client: progress, seeds, cancellation,
resource links, limits, a second client served mid-run, and the house DDPM end to end."""

from __future__ import annotations

import base64
import io
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import BlobResourceContents, CallToolResult, ImageContent, ResourceLink, TextContent

from genai_mcp.server.app import create_server
from genai_mcp.server.settings import ServerSettings
from genai_mcp.tools.house.digits import digit_images
from tests.helpers.checkpoints import make_tiny_pipeline
from tests.helpers.results import text_of


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("diffusion-models")
    return {
        "grey": make_tiny_pipeline(root / "grey"),
        "rgb": make_tiny_pipeline(root / "rgb", channels=3, size=12, train_timesteps=1000),
    }


@pytest.fixture
def settings(tmp_path: Path) -> ServerSettings:
    return ServerSettings(data_dir=tmp_path, roots=[tmp_path], max_diffusion_steps=1000, max_num_images=8)


def run(main: Any) -> None:
    anyio.run(main)


def png_of(data: bytes) -> Any:
    from PIL import Image

    return Image.open(io.BytesIO(data))


async def read_link(client: Client, link: ResourceLink) -> bytes:
    content = (await client.read_resource(link.uri)).contents[0]
    assert isinstance(content, BlobResourceContents) and content.mime_type == "image/png"
    return base64.b64decode(content.blob)


def blocks(result: CallToolResult) -> tuple[TextContent, ImageContent, list[ResourceLink]]:
    assert not result.is_error, text_of(result)
    text, preview, *links = result.content
    assert isinstance(text, TextContent) and isinstance(preview, ImageContent)
    assert all(isinstance(link, ResourceLink) for link in links)
    return text, preview, links  # type: ignore[return-value]


def test_tools_are_listed_with_schemas_and_honest_annotations(settings: ServerSettings) -> None:
    async def main() -> None:
        async with Client(create_server(settings)) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            for name in ("sample_images", "denoise_image"):
                tool = tools[name]
                assert tool.annotations is not None
                assert tool.annotations.read_only_hint is False and tool.annotations.destructive_hint is False
                assert tool.annotations.idempotent_hint is False and tool.annotations.open_world_hint is False
                assert tool.output_schema is not None and "seed" in tool.output_schema["properties"]
                assert "ctx" not in tool.input_schema["properties"]
            sample = tools["sample_images"].input_schema["properties"]
            assert set(sample) == {"num_images", "steps", "scheduler", "eta", "seed", "model"}
            assert "ddim" in str(sample["scheduler"]) and "euler" in str(sample["scheduler"])
            assert tools["denoise_image"].input_schema["required"] == ["image"]

    run(main)


def test_progress_counts_the_steps_and_every_link_reads_back(
    settings: ServerSettings, models: dict[str, str]
) -> None:
    async def main() -> None:
        async with Client(create_server(settings)) as client:
            reports: list[tuple[float, float | None]] = []

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                reports.append((progress, total))

            args = {"num_images": 3, "steps": 7, "seed": 4, "model": models["grey"]}
            result = await client.call_tool("sample_images", args, progress_callback=on_progress)
            _, preview, links = blocks(result)
            # Coalesced to at most one per 50 ms (server/longwork.py): increasing, ending at 7 of 7.
            assert [r[0] for r in reports] == sorted({r[0] for r in reports})
            assert reports[-1] == (7, 7) and {r[1] for r in reports} == {7}
            meta = result.structured_content
            assert meta is not None
            assert (meta["seed"], meta["steps"], meta["scheduler"], meta["num_images"]) == (4, 7, "ddim", 3)
            assert meta["elapsed_seconds"] > 0 and len(links) == 3 == len(meta["images"])
            shown = png_of(base64.b64decode(preview.data))
            assert preview.mime_type == "image/png" and max(shown.size) <= 512
            assert len(base64.b64decode(preview.data)) <= settings.preview_max_bytes
            first = []
            for link, stored in zip(links, meta["images"], strict=True):
                data = await read_link(client, link)
                assert link.uri == stored["uri"] and len(data) == link.size == stored["bytes"]
                assert png_of(data).size == (8, 8) and png_of(data).mode == "L"
                first.append(data)

            # Same seed, same images, byte for byte; no progress requested, none sent.
            sent_for_sample = len(reports)
            again = await client.call_tool("sample_images", args)
            assert [await read_link(client, link) for link in blocks(again)[2]] == first
            assert len(reports) == sent_for_sample

            # denoise_image: progress per step, three images, MSEs in the metadata.
            reports.clear()
            path = settings.data_dir / "digit.png"
            digit_images("test")[0][0].save(path)
            result = await client.call_tool(
                "denoise_image",
                {"image": str(path), "strength": 0.6, "steps": 5, "seed": 1, "model": models["rgb"]},
                progress_callback=on_progress,
            )
            _, preview, links = blocks(result)
            meta = result.structured_content
            assert meta is not None and reports[-1] == (5, 5) and {r[1] for r in reports} == {5}
            assert [r[0] for r in reports] == sorted({r[0] for r in reports})
            assert (meta["input_width"], meta["width"], meta["channels"]) == (16, 12, 3)
            assert meta["mse_noisy"] > 0 and meta["mse_denoised"] > 0
            assert [link.uri for link in links] == [meta[k]["uri"] for k in ("input", "noisy", "denoised")]
            for link in links:
                assert png_of(await read_link(client, link)).size == (12, 12)
            assert png_of(base64.b64decode(preview.data)).size == (
                meta["preview"]["width"],
                meta["preview"]["height"],
            )

            # A produced image is a valid input by its URI (the vision tools' input path).
            result = await client.call_tool(
                "denoise_image", {"image": links[2].uri, "timestep": 100, "steps": 3, "model": models["rgb"]}
            )
            assert blocks(result)[2] and result.structured_content is not None
            assert result.structured_content["timestep"] <= 100

    run(main)


class StopLog(logging.Handler):
    """The "sample_images stopped" lines the server logs (from its worker thread); `seen` is set at the first."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "sample_images stopped" in record.getMessage():
            self.messages.append(record.getMessage())
            self.seen.set()


@pytest.fixture
def stop_log(caplog: pytest.LogCaptureFixture) -> Iterator[StopLog]:
    name = "genai_mcp.server.diffusion_tools"
    handler = StopLog()
    with caplog.at_level(logging.INFO, logger=name):
        logging.getLogger(name).addHandler(handler)
        yield handler
        logging.getLogger(name).removeHandler(handler)


def test_cancel_stops_within_a_step_and_the_next_call_works(
    settings: ServerSettings, models: dict[str, str], stop_log: StopLog
) -> None:
    async def main() -> None:
        async with Client(create_server(settings)) as client:
            third_step = anyio.Event()

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                if progress >= 3:
                    third_step.set()

            args = {"num_images": 2, "steps": 1000, "seed": 0, "model": models["rgb"]}
            async with anyio.create_task_group() as tg:

                async def call() -> None:
                    await client.call_tool("sample_images", args, progress_callback=on_progress)

                tg.start_soon(call)
                await third_step.wait()
                tg.cancel_scope.cancel()
            # The worker notices at its next step and logs how far it got.
            assert await anyio.to_thread.run_sync(stop_log.seen.wait, 10), "the worker never said it stopped"
            assert "cancelled by the caller after" in stop_log.messages[0]
            done = int(stop_log.messages[0].split("after ")[1].split(" of ")[0])
            assert 3 <= done < 1000

            result = await client.call_tool(
                "sample_images", {"num_images": 1, "steps": 2, "model": models["rgb"]}
            )
            assert result.structured_content is not None and result.structured_content["steps"] == 2

    run(main)


def test_a_second_client_is_answered_while_a_sample_runs(
    settings: ServerSettings, models: dict[str, str]
) -> None:
    server = create_server(settings)

    async def main() -> None:
        async with Client(server) as sampler, Client(server) as lister:
            started = anyio.Event()
            finished = anyio.Event()
            latencies: list[float] = []

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                started.set()

            async def sample() -> None:
                args = {"num_images": 2, "steps": 300, "seed": 0, "model": models["rgb"]}
                await sampler.call_tool("sample_images", args, progress_callback=on_progress)
                finished.set()

            async with anyio.create_task_group() as tg:
                tg.start_soon(sample)
                await started.wait()
                during_run = 0
                while not finished.is_set() and during_run < 20:
                    t0 = time.perf_counter()
                    tools = await lister.list_tools()
                    latencies.append(time.perf_counter() - t0)
                    assert any(t.name == "sample_images" for t in tools.tools)
                    during_run += not finished.is_set()
                tg.cancel_scope.cancel()  # enough evidence; stop the sample
            assert during_run >= 5, latencies
            assert sorted(latencies)[len(latencies) // 2] < 0.25, latencies  # a loaded 2-core machine

    run(main)


def test_bad_inputs_give_clear_errors(settings: ServerSettings, models: dict[str, str]) -> None:
    settings.max_diffusion_steps = 20
    settings.max_num_images = 4
    settings.max_image_pixels = 300

    async def main() -> None:
        async with Client(create_server(settings)) as client:

            async def error(name: str, args: dict[str, Any]) -> str:
                result = await client.call_tool(name, args)
                assert result.is_error
                return text_of(result)

            grey = models["grey"]
            assert "over the limit of 20 (raise it with GENAI_MCP_MAX_DIFFUSION_STEPS)" in await error(
                "sample_images", {"steps": 21, "model": grey}
            )
            assert (
                "num_images is 5, over the limit of 4 (raise it with GENAI_MCP_MAX_NUM_IMAGES)"
                in await error("sample_images", {"num_images": 5, "steps": 2, "model": grey})
            )
            assert "eta applies only to the ddim scheduler" in await error(
                "sample_images", {"scheduler": "ddpm", "eta": 0.3, "model": grey}
            )
            assert "scheduler" in await error("sample_images", {"scheduler": "magic"})
            assert "no image 'nope.png' exists under the allowed roots" in await error(
                "denoise_image", {"image": "nope.png", "model": grey}
            )
            assert "not a PNG, JPEG" in await error(
                "denoise_image", {"image": base64.b64encode(b"x" * 80).decode(), "model": grey}
            )
            big = settings.data_dir / "big.png"
            digit_images("test", size=20)[0][0].save(big)
            assert (
                "(20x20) is 400, over the limit of 300 (raise it with GENAI_MCP_MAX_IMAGE_PIXELS)"
                in await error("denoise_image", {"image": str(big), "model": grey})
            )
            assert "leaves room for at most 10 steps" in await error(
                "denoise_image",
                {"image": str(_digit_file(settings)), "timestep": 9, "steps": 11, "model": grey},
            )
            assert "GENAI_MCP_ALLOW_DOWNLOADS" in await error(
                "sample_images", {"steps": 2, "model": "someone/not-cached-ddpm"}
            )
            # The server is still fine.
            ok = await client.call_tool("sample_images", {"num_images": 1, "steps": 2, "model": grey})
            assert not ok.is_error

    run(main)


def _digit_file(settings: ServerSettings) -> Path:
    path = settings.data_dir / "digit-7.png"
    digit_images("test")[0][1].save(path)
    return path


def test_house_ddpm_through_mcp_samples_and_denoises(settings: ServerSettings) -> None:
    async def main() -> None:
        async with Client(create_server(settings)) as client:
            result = await client.call_tool("sample_images", {"num_images": 4, "steps": 20, "seed": 0})
            _, _, links = blocks(result)
            meta = result.structured_content
            assert (
                meta is not None
                and meta["model"] == "house/ddpm-digits"
                and (meta["width"], meta["channels"]) == (16, 1)
            )
            for link in links:
                assert png_of(await read_link(client, link)).size == (16, 16)

            result = await client.call_tool(
                "denoise_image",
                {"image": str(_digit_file(settings)), "strength": 0.5, "steps": 20, "seed": 3},
            )
            meta = result.structured_content
            assert meta is not None and meta["mse_denoised"] < meta["mse_noisy"]

    run(main)
