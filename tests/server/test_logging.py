"""Server -> client logging (server/client_logs.py) in both protocol eras: the `logging` capability,
levels honoured per client, records during a call (not only after it), a job's records after its
call, nothing for a client that asked for nothing, a client gone mid-call, and a real stdio process
whose stdout stays JSON-RPC and whose stderr has the records but no progress bars."""

from __future__ import annotations

import base64
import io
import json
import logging
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from anyio.streams.text import TextReceiveStream
from mcp import Client, MCPDeprecationWarning, MCPError
from mcp.client.session import LoggingFnT
from mcp.server import MCPServer
from mcp.types import LoggingLevel, LoggingMessageNotificationParams, ToolAnnotations
from PIL import Image
from pydantic import BaseModel

from genai_mcp.client import Host
from genai_mcp.server.adapters import ToolPublisher, ToolSpec
from genai_mcp.server.app import build_server, create_server
from genai_mcp.server.settings import ServerSettings
from genai_mcp.tools.progress import Progress
from tests.helpers.host_entries import genai_stdio_entry
from tests.helpers.processes import serve_command, server_env
from tests.helpers.results import ok, text_of

ERAS = ["legacy", "2026-07-28"]


@pytest.fixture(autouse=True)
def genai_records(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    # What the serve command does for its process (server/process.py): every genai_mcp record exists.
    caplog.set_level(logging.DEBUG, logger="genai_mcp")
    yield


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> MCPServer[Any]:
    return create_server(ServerSettings(data_dir=tmp_path_factory.mktemp("logging"), log_level="WARNING"))


def png(mode: str = "RGB", size: int = 16) -> str:
    buffer = io.BytesIO()
    Image.new(mode, (size, size)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


class Heard:
    """A logging callback that keeps what arrived, with an event per awaited message fragment."""

    def __init__(self) -> None:
        self.messages: list[LoggingMessageNotificationParams] = []
        self._waits: list[tuple[str, anyio.Event]] = []

    async def __call__(self, params: LoggingMessageNotificationParams) -> None:
        self.messages.append(params)
        for fragment, event in self._waits:
            if fragment in message(params):
                event.set()

    def event(self, fragment: str) -> anyio.Event:
        event = anyio.Event()
        self._waits.append((fragment, event))
        if any(fragment in message(p) for p in self.messages):
            event.set()
        return event

    def levels(self) -> set[str]:
        return {p.level for p in self.messages}

    def with_text(self, fragment: str) -> list[LoggingMessageNotificationParams]:
        return [p for p in self.messages if fragment in message(p)]


def message(params: LoggingMessageNotificationParams) -> str:
    data = params.data
    return str(data["message"]) if isinstance(data, dict) else str(data)


def client(server: MCPServer[Any], era: str, on_log: LoggingFnT, level: LoggingLevel | None) -> Client:
    """A Client in `era` whose level is `level` on 2026-07-28 (None: it asks for nothing); on
    2025-11-25 a Client asks for nothing until `ask`."""
    if era == "legacy":
        return Client(server, mode="legacy", logging_callback=on_log)
    # "auto" negotiates 2026-07-28 with this server (and, unlike a fixed mode, discovers it).
    return Client(server, mode="auto", logging_callback=on_log, log_level=level)


async def ask(c: Client, era: str, level: LoggingLevel | None) -> None:
    """On 2025-11-25 the level is set once with logging/setLevel (deprecated by 2026-07-28)."""
    assert c.protocol_version == ("2025-11-25" if era == "legacy" else "2026-07-28")
    if era == "legacy" and level is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await c.set_logging_level(level)


# ---- the capability


@pytest.mark.parametrize("era", ERAS)
def test_logging_is_declared_in_both_eras(server: MCPServer[Any], era: str) -> None:
    async def main() -> None:
        async with client(server, era, Heard(), None) as c:
            assert c.server_capabilities.logging is not None
            await ask(c, era, "error")
            if era != "legacy":  # 2026-07-28 has no logging/setLevel: the level rides each request
                with pytest.raises(MCPError) as refused, warnings.catch_warnings():
                    warnings.simplefilter("ignore", MCPDeprecationWarning)
                    await c.set_logging_level("error")
                assert refused.value.code == -32601
            assert ok(await c.call_tool("text_metrics", {"candidates": ["a b"], "references": [["a b"]]}))

    anyio.run(main)


# ---- who gets what


@pytest.mark.parametrize("era", ERAS)
def test_a_client_that_asked_for_nothing_gets_nothing(
    server: MCPServer[Any], era: str, caplog: pytest.LogCaptureFixture
) -> None:
    heard = Heard()

    async def main() -> None:
        async with client(server, era, heard, None) as c:
            await ask(c, era, None)
            assert ok(await c.call_tool("classify_image", {"image": png("RGBA")}))
            assert (await c.call_tool("classify_image", {"image": "not an image"})).is_error

    anyio.run(main)
    assert heard.messages == []
    # ...although the records were there to send: the conversion warning and the refusal.
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("genai_mcp")]
    assert any("transparency dropped" in m for m in logged) and any("refused:" in m for m in logged)


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(
    ("level", "expected"),
    [("warning", {"warning"}), ("info", {"warning", "info"}), ("debug", {"warning", "info", "debug"})],
)
def test_levels_filter(server: MCPServer[Any], era: str, level: LoggingLevel, expected: set[str]) -> None:
    heard = Heard()

    async def main() -> None:
        async with client(server, era, heard, level) as c:
            await ask(c, era, level)
            # warning: the alpha channel dropped; debug: the model from the cache (or its load, info).
            assert ok(await c.call_tool("classify_image", {"image": png("RGBA")}))
            assert ok(await c.call_tool("classify_image", {"image": png("RGBA")}))
            refused = await c.call_tool("classify_image", {"image": png(size=4)})  # info: refused
            assert refused.is_error and "at least" in text_of(refused)

    anyio.run(main)
    assert heard.levels() == expected, [(p.level, message(p)) for p in heard.messages]
    warned = heard.with_text("converted from mode RGBA to RGB (its transparency dropped)")
    assert len(warned) == 2 and warned[0].logger == "genai_mcp.tools.images"
    assert warned[0].data["from_mode"] == "RGBA"
    if level != "warning":
        (refusal,) = heard.with_text("refused:")
        assert refusal.logger == "genai_mcp.server.errors" and refusal.data["error"] == "InvalidInputError"
        assert "shorter side must be at least" in refusal.data["message"]


@pytest.mark.parametrize("era", ERAS)
def test_a_model_load_is_logged_with_its_figures_before_the_result(tmp_path: Path, era: str) -> None:
    # A server of its own, so that this call loads the DDPM.
    server = create_server(ServerSettings(data_dir=tmp_path, log_level="WARNING"))
    heard = Heard()
    returned = False
    before: list[bool] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        before.append(not returned)  # the callback runs before the call's result is handed back
        await heard(params)

    async def main() -> None:
        nonlocal returned
        async with client(server, era, on_log, "info") as c:
            await ask(c, era, "info")
            result = await c.call_tool("sample_images", {"num_images": 1, "steps": 8, "seed": 1})
            returned = True
            assert not result.is_error, text_of(result)

    anyio.run(main)
    (load,) = heard.with_text("loaded house/ddpm-digits")
    assert load.level == "info" and load.logger == "genai_mcp.tools.models.cache"
    figures = load.data
    assert figures["id"] == "house/ddpm-digits" and figures["task"] == "unconditional-image-generation"
    assert figures["device"] == "cpu" and figures["dtype"] == "float32" and figures["source"] == "house"
    assert figures["seconds"] > 0 and figures["bytes"] > 100_000
    assert before and all(before), "every record arrived before the call's result"


@pytest.mark.parametrize("era", ERAS)
def test_the_records_of_a_tools_resolvers_arrive_too(tmp_path: Path, era: str) -> None:
    # describe_image runs its classifiers in a resolver, which the SDK runs before the tool itself.
    server = create_server(ServerSettings(data_dir=tmp_path, log_level="WARNING"))
    heard = Heard()

    async def main() -> None:
        async with client(server, era, heard, "info") as c:
            await ask(c, era, "info")
            result = ok(await c.call_tool("describe_image", {"image": png()}))
            assert result["description_status"] == "client_cannot_sample"

    anyio.run(main)
    assert heard.with_text("loaded house/vit-digits") and heard.with_text("loaded house/clip-digits")


# ---- during the call, and a client gone mid-call


class HoldRequest(BaseModel):
    records: int = 1


class HoldResult(BaseModel):
    heard: bool


HOLD = ToolSpec(
    name="hold",
    title="Hold",
    description="Logs, then waits until the client has heard it (a test harness on the real seam).",
    request=HoldRequest,
    result=HoldResult,
    annotations=ToolAnnotations(
        read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    ),
)
harness_log = logging.getLogger("genai_mcp.tests.hold")


def hold_server(tmp_path: Path, heard: threading.Event, finished: threading.Event) -> MCPServer[Any]:
    """The real server plus `hold`: it logs from its worker thread, then waits (30 s at most) for the
    client's logging callback to set `heard`, then logs `records` more and sets `finished`."""
    server, tools = build_server(ServerSettings(data_dir=tmp_path, log_level="WARNING"))

    def hold(request: HoldRequest, progress: Progress) -> HoldResult:
        harness_log.info("halfway there", extra={"figures": {"step": 1}})
        got = heard.wait(30)
        for i in range(request.records):
            harness_log.info("record %d after the client heard", i)
        finished.set()
        return HoldResult(heard=got)

    ToolPublisher.add_long(tools, HOLD, hold)
    return server


@pytest.mark.parametrize("era", ERAS)
def test_records_arrive_while_the_call_runs(tmp_path: Path, era: str) -> None:
    heard, finished = threading.Event(), threading.Event()
    server = hold_server(tmp_path, heard, finished)
    got: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        got.append(params)
        heard.set()  # the worker is still inside the call, waiting for exactly this

    async def main() -> None:
        async with client(server, era, on_log, "info") as c:
            await ask(c, era, "info")
            result = ok(await c.call_tool("hold", {"records": 3}))
            assert result == {"heard": True}

    anyio.run(main)
    assert [message(p) for p in got] == ["halfway there"] + [
        f"record {i} after the client heard" for i in range(3)
    ]
    assert got[0].data == {"message": "halfway there", "step": 1} and got[0].logger == "genai_mcp.tests.hold"


@pytest.mark.parametrize("era", ERAS)
def test_a_client_gone_mid_call_neither_blocks_nor_breaks_the_work(tmp_path: Path, era: str) -> None:
    heard, finished = threading.Event(), threading.Event()
    server = hold_server(tmp_path, heard, finished)
    first = Heard()

    async def main() -> None:
        arrived = first.event("halfway there")
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                async with client(server, era, first, "info") as c:
                    await ask(c, era, "info")
                    await c.call_tool("hold", {"records": 1000})  # far more than a call buffers

            tg.start_soon(call)
            with anyio.fail_after(30):
                await arrived.wait()
            tg.cancel_scope.cancel()  # the client goes away while the worker waits
        heard.set()  # the worker now logs 1000 records to nobody
        assert await anyio.to_thread.run_sync(finished.wait, 30)
        # The server still serves the next client, logs included.
        again = Heard()
        async with client(server, era, again, "info") as c:
            await ask(c, era, "info")
            assert (await c.call_tool("classify_image", {"image": "nope"})).is_error
        assert again.with_text("refused:")

    anyio.run(main)


# ---- training jobs: records after the call that started them


def test_job_records_reach_a_legacy_client_after_its_call(tmp_path: Path) -> None:
    server = create_server(ServerSettings(data_dir=tmp_path, log_level="WARNING"))
    heard = Heard()
    args = {
        "task": "causal-lm",
        "dataset": [f"the zebra number {i} sings softly at dawn." for i in range(12)],
        "max_steps": 3,
        "confirm": True,
        "wait_seconds": 0,
    }

    async def main() -> None:
        async with Client(server, mode="legacy", logging_callback=heard) as c:
            await ask(c, "legacy", "info")
            done = heard.event(" succeeded")
            started = ok(await c.call_tool("lora_finetune", {**args, "name": "zebra-log"}))
            job_id = started["job"]["job_id"]
            with anyio.fail_after(120):
                await done.wait()  # no polling: the job's own record says it finished

            cancelled = heard.event(" cancelled")
            running = heard.event("started")
            long = ok(await c.call_tool("lora_finetune", {**args, "name": "zebra-long", "max_steps": 1500}))
            with anyio.fail_after(120):
                await running.wait()
                ok(await c.call_tool("cancel_job", {"job_id": long["job"]["job_id"]}))
                await cancelled.wait()
        (queued,) = heard.with_text(f"job {job_id} queued")
        assert queued.data["adapter"] == "zebra-log" and queued.data["total_steps"] == 3
        (finished,) = heard.with_text(f"job {job_id} succeeded")
        assert finished.logger == "genai_mcp.tools.lora.jobs" and finished.level == "info"
        assert finished.data["state"] == "succeeded" and finished.data["step"] == 3
        assert finished.data["eval_metric"] == "perplexity" and finished.data["metric_after"] > 0
        assert "perplexity" in finished.data["message"] and finished.data["elapsed_seconds"] > 0
        (stopped,) = heard.with_text(" cancelled")
        assert stopped.data["state"] == "cancelled" and stopped.data["step"] < 1500

    anyio.run(main)


def test_a_2026_client_gets_a_jobs_records_only_while_its_call_runs(tmp_path: Path) -> None:
    server = create_server(ServerSettings(data_dir=tmp_path, log_level="WARNING"))
    heard = Heard()
    args = {"task": "causal-lm", "dataset": ["a zebra sings at dawn."] * 12, "max_steps": 2, "confirm": True}
    ended = threading.Event()

    class JobEnd(logging.Handler):  # the server side's record of the job's end, to wait on
        def emit(self, record: logging.LogRecord) -> None:
            if " succeeded " in record.getMessage():
                ended.set()

    jobs_log = logging.getLogger("genai_mcp.tools.lora.jobs")
    watcher = JobEnd()
    jobs_log.addHandler(watcher)

    async def main() -> None:
        async with client(server, "2026-07-28", heard, "info") as c:
            await ask(c, "2026-07-28", "info")
            started = ok(
                await c.call_tool("lora_finetune", {**args, "name": "zebra-modern", "wait_seconds": 0})
            )
            job_id = started["job"]["job_id"]
            assert await anyio.to_thread.run_sync(ended.wait, 120)
            # One more round trip: anything the end's record had set going on the loop is done.
            assert ok(await c.call_tool("job_status", {"job_id": job_id}))["state"] == "succeeded"
        assert heard.with_text(f"job {job_id} queued")
        assert not heard.with_text(f"job {job_id} succeeded")  # no stream to carry it after its call

    try:
        anyio.run(main)
    finally:
        jobs_log.removeHandler(watcher)


# ---- real processes


@pytest.mark.slow
def test_stdio_stdout_is_json_rpc_and_stderr_has_records_without_progress_bars(tmp_path: Path) -> None:
    """A `genai-mcp serve` child spoken to line by line, as an MCP host does over stdio."""
    stderr_path = tmp_path / "stderr.txt"
    seen: list[dict[str, Any]] = []

    async def main() -> None:
        with open(stderr_path, "wb") as stderr:  # the child keeps its own copy of the descriptor
            process = await anyio.open_process(
                serve_command("--log-level", "INFO"), env=server_env(tmp_path / "data"), stderr=stderr
            )
        async with process:
            assert process.stdin is not None and process.stdout is not None
            stdin, stdout = process.stdin, TextReceiveStream(process.stdout)
            buffer = ""

            async def request(request_id: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
                """Send one request; read stdout lines up to its reply, each one JSON-RPC."""
                nonlocal buffer
                message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
                await stdin.send((json.dumps(message) + "\n").encode())
                while True:
                    while "\n" not in buffer:
                        buffer += await stdout.receive()
                    line, buffer = buffer.split("\n", 1)
                    parsed: dict[str, Any] = json.loads(line)
                    assert parsed["jsonrpc"] == "2.0", line
                    seen.append(parsed)
                    if parsed.get("id") == request_id:
                        return parsed

            with anyio.fail_after(120):
                hello = {"name": "line-by-line", "version": "0"}
                init = await request(
                    1,
                    "initialize",
                    {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": hello},
                )
                assert "logging" in init["result"]["capabilities"]
                await stdin.send(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')
                bad = await request(2, "logging/setLevel", {"level": "loud"})
                assert bad["error"]["code"] == -32602  # not a level: refused, and the server stays up
                assert (await request(3, "logging/setLevel", {"level": "debug"}))["result"] == {}
                for request_id in (4, 5):  # a load, then the model from the cache (a debug record)
                    call = {"name": "classify_image", "arguments": {"image": png()}}
                    reply = await request(request_id, "tools/call", call)
                    assert reply["result"]["isError"] is False
                await stdin.aclose()
                await process.wait()

    anyio.run(main)
    logs = [m["params"] for m in seen if m.get("method") == "notifications/message"]
    loads = [
        p for p in logs if isinstance(p["data"], dict) and "loaded house/vit-digits" in p["data"]["message"]
    ]
    assert len(loads) == 1 and loads[0]["data"]["task"] == "image-classification"
    assert loads[0]["logger"] == "genai_mcp.tools.models.cache" and loads[0]["level"] == "info"
    assert any(p["level"] == "debug" and "from the model cache" in str(p["data"]) for p in logs)
    err = stderr_path.read_text()
    assert "loaded house/vit-digits" in err  # the same record, on stderr under --log-level INFO
    assert "from the model cache" not in err  # debug: the client asked for it, stderr's level did not
    assert "Loading weights" not in err and "it/s" not in err and "%|" not in err, err


@pytest.mark.slow
def test_the_host_shows_genai_mcp_logs_in_both_eras(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="genai_mcp.client.server")
    config = {
        "mcpServers": {
            "old": genai_stdio_entry(tmp_path / "old", protocol="legacy", log_level="info"),
            "new": genai_stdio_entry(tmp_path / "new", protocol="auto", log_level="info"),
        }
    }

    async def main() -> None:
        async with Host.from_config(config) as host:
            assert host.servers["old"].protocol_version == "2025-11-25"
            assert host.servers["new"].protocol_version == "2026-07-28"
            for name in ("old", "new"):
                result = await host.call_tool(f"{name}.classify_image", {"image": png("LA")}, timeout=120)
                assert not result.is_error, text_of(result)

    anyio.run(main)
    for name in ("old", "new"):
        shown = [r for r in caplog.records if r.name == f"genai_mcp.client.server.{name}"]
        text = "\n".join(r.getMessage() for r in shown)
        assert "loaded house/vit-digits" in text and "transparency dropped" in text, text
        assert {r.levelno for r in shown} == {logging.INFO, logging.WARNING}
        (load,) = [r for r in shown if "loaded house/vit-digits" in r.getMessage()]
        assert load.mcp_data["task"] == "image-classification" and load.mcp_data["bytes"] > 0  # type: ignore[attr-defined]
