"""Each server owns its state: two in one process share nothing, and start-up / shutdown work runs
in the lifespan, not while the server is being built."""

from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path

import anyio
from mcp import Client
from mcp.types import TextResourceContents
from PIL import Image

from genai_mcp.server.app import create_server
from genai_mcp.server.settings import ServerSettings
from genai_mcp.tools.lora.store import HOST_TAG


def loaded_models(text: str) -> list[str]:
    return [m["id"] for m in json.loads(text)["loaded"]]


def digit_png() -> str:
    buf = io.BytesIO()
    Image.new("L", (16, 16), 0).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_two_servers_in_one_process_share_no_models_or_stores(tmp_path: Path) -> None:
    a = create_server(ServerSettings(data_dir=tmp_path / "a"))
    b = create_server(ServerSettings(data_dir=tmp_path / "b", cache_max_models=1))

    async def main() -> None:
        async with Client(a) as ca, Client(b) as cb:
            result = await ca.call_tool("classify_image", {"image": digit_png()})
            assert not result.is_error
            listing_a = (await ca.read_resource("models://list")).contents[0]
            listing_b = (await cb.read_resource("models://list")).contents[0]
            assert isinstance(listing_a, TextResourceContents) and isinstance(listing_b, TextResourceContents)
            assert loaded_models(listing_a.text) == ["house/vit-digits"]
            assert loaded_models(listing_b.text) == []
            sample = await ca.call_tool("sample_images", {"num_images": 1, "steps": 2, "seed": 1})
            assert not sample.is_error
        assert len(list((tmp_path / "a" / "outputs").iterdir())) == 1
        assert not (tmp_path / "b" / "outputs").exists()

    anyio.run(main)


def test_start_up_clean_up_runs_in_the_lifespan_not_at_construction(tmp_path: Path) -> None:
    stale = (
        tmp_path / "adapters" / f".tmp-gone-{HOST_TAG}-999999999-abc"
    )  # no such pid: a killed save's leftovers
    stale.mkdir(parents=True)
    env_before = dict(os.environ)
    server = create_server(ServerSettings(data_dir=tmp_path, torch_threads=1))
    assert stale.is_dir()  # building a server touches no disk
    assert dict(os.environ) == env_before  # nor the process environment (torch threads are the CLI's)

    async def main() -> None:
        async with Client(server) as client:
            await client.list_tools()
            assert not stale.exists()
        # A second session on the same server works after the first closed its lifespan.
        async with Client(server) as client:
            listed = await client.call_tool("list_jobs", {})
            assert listed.structured_content == {"jobs": []}

    anyio.run(main)


def test_the_server_turns_the_caches_gc_freeze_on_unless_told_not_to(tmp_path: Path) -> None:
    from genai_mcp.server.state import ServerState

    assert ServerState.from_settings(ServerSettings(data_dir=tmp_path)).models.freeze_gc is True
    off = ServerSettings.load(env={"GENAI_MCP_GC_FREEZE": "0", "GENAI_MCP_DATA_DIR": str(tmp_path)})
    assert ServerState.from_settings(off).models.freeze_gc is False
