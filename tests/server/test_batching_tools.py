"""classify_image micro-batching through the MCP in-memory Client: concurrent single calls share
forward passes (read from the server's own batcher), each caller gets its unbatched result, and a
cancelled caller leaves the others' results alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import anyio
import pytest
from mcp import Client

from genai_mcp.server import state as server_state
from genai_mcp.server.app import create_server
from genai_mcp.server.settings import ServerSettings
from genai_mcp.tools.house.digits import digit_images
from genai_mcp.tools.models.batching import ForwardBatcher
from tests.helpers.images import b64, encode
from tests.helpers.results import ok, run_client

CALLS = 8


class RecordedBatcher(ForwardBatcher):
    """The server's batcher, kept where the test can read its counters."""

    built: ClassVar[list[ForwardBatcher]] = []

    def __init__(self, window_s: float, max_batch: int) -> None:
        super().__init__(window_s, max_batch)
        RecordedBatcher.built.append(self)


@pytest.fixture
def specs() -> list[str]:
    images, _ = digit_images("test")
    return [b64(encode(im)) for im in images[:CALLS]]


def labels_of(content: dict[str, Any]) -> list[tuple[str, float]]:
    return [(x["label"], x["probability"]) for x in content["results"][0]["labels"]]


def unbatched(tmp_path: Path, specs: list[str]) -> list[list[tuple[str, float]]]:
    server = create_server(
        ServerSettings(data_dir=tmp_path / "alone", batch_window_ms=0, log_level="WARNING")
    )
    found: list[list[tuple[str, float]]] = []

    async def check(client: Client) -> None:
        for spec in specs:
            found.append(labels_of(ok(await client.call_tool("classify_image", {"image": spec, "top_k": 3}))))

    run_client(server, check)
    return found


def assert_same(got: list[tuple[str, float]], expected: list[tuple[str, float]]) -> None:
    assert [label for label, _ in got] == [label for label, _ in expected]
    assert [p for _, p in got] == pytest.approx([p for _, p in expected], abs=1e-5)


def test_concurrent_single_calls_share_forward_passes_with_unbatched_results(
    tmp_path: Path, specs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = unbatched(tmp_path, specs)
    monkeypatch.setattr(server_state, "ForwardBatcher", RecordedBatcher)
    RecordedBatcher.built.clear()
    # A window no call waits out: the batch is released when all CALLS images have joined.
    settings = ServerSettings(
        data_dir=tmp_path / "d", batch_window_ms=1000, batch_max=CALLS, log_level="WARNING"
    )
    server = create_server(settings)
    (batcher,) = RecordedBatcher.built
    got: dict[int, list[tuple[str, float]]] = {}

    async def check(client: Client) -> None:
        async def one(i: int) -> None:
            got[i] = labels_of(ok(await client.call_tool("classify_image", {"image": specs[i], "top_k": 3})))

        async with anyio.create_task_group() as tg:
            for i in range(CALLS):
                tg.start_soon(one, i)

    run_client(server, check)
    for i in range(CALLS):
        assert_same(got[i], expected[i])
    stats = batcher.stats()
    assert stats.calls == CALLS and stats.forwards < CALLS


def test_a_cancelled_caller_does_not_disturb_the_others(tmp_path: Path, specs: list[str]) -> None:
    expected = unbatched(tmp_path, specs)
    settings = ServerSettings(data_dir=tmp_path / "d", batch_window_ms=300, batch_max=32, log_level="WARNING")
    server = create_server(settings)
    got: dict[int, list[tuple[str, float]]] = {}

    async def check(client: Client) -> None:
        async def one(i: int) -> None:
            got[i] = labels_of(ok(await client.call_tool("classify_image", {"image": specs[i], "top_k": 3})))

        async with anyio.create_task_group() as tg:
            with anyio.CancelScope() as cancelled:
                tg.start_soon(one, 0)  # started inside the scope: cancelling it cancels this call
                for i in range(1, CALLS):
                    tg.start_soon(one, i)
                await anyio.sleep(0)
                cancelled.cancel()
        # The server is still serving: a call after the cancellation works.
        got[-1] = labels_of(ok(await client.call_tool("classify_image", {"image": specs[0], "top_k": 3})))

    run_client(server, check)
    for i in range(1, CALLS):
        assert_same(got[i], expected[i])
    assert_same(got[-1], expected[0])
