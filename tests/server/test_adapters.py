"""The tool seam (ToolPublisher): flat schemas with live limits, the three shapes of work, resolvers
that get the validated request, the content hook, and which errors reach the client."""

from __future__ import annotations

import threading
from typing import Any

import anyio
from mcp import Client
from mcp.server import MCPServer
from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult, Sample
from mcp.types import (
    CreateMessageResult,
    ElicitResult,
    ImageContent,
    SamplingMessage,
    TextContent,
    ToolAnnotations,
)
from pydantic import BaseModel, Field, model_validator

from genai_mcp.server.adapters import Resolver, ToolPublisher, ToolSpec
from genai_mcp.tools.errors import InvalidInputError, LimitExceededError
from genai_mcp.tools.progress import Progress
from tests.helpers.results import text_of

PURE = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
LIMITS = {"text.max_new_tokens": 7, "files.roots": ["/data"]}


class Request(BaseModel):
    values: list[int] = Field(description="numbers to add, at most {text.max_new_tokens}", min_length=1)
    scale: int = Field(2, ge=1, le=10, description="multiplier")
    mode: str = Field("sum", description="sum, or crash to simulate a bug")

    @model_validator(mode="after")
    def _check(self) -> Request:
        if len(self.values) > 3 and self.scale > 5:
            raise ValueError(
                f"scale {self.scale} is only allowed with up to 3 values, got {len(self.values)}"
            )
        return self


class CallRequest(Request):
    """A tool-call-only argument, as a field of a model that extends the domain's request."""

    confirm: bool = Field(False, description="go ahead without asking")


class Result(BaseModel):
    total: int


class Confirm(BaseModel):
    ok: bool = True


def add(request: Request) -> Result:
    if request.mode == "crash":
        raise RuntimeError("internal detail that must not leak")
    if len(request.values) > 7:
        raise LimitExceededError("values", len(request.values), 7, setting="text.max_new_tokens")
    if request.mode == "path":
        raise InvalidInputError("no file roots are configured", setting="files.roots")
    return Result(total=sum(request.values) * request.scale)


def spec(name: str, request: type[BaseModel] = Request, **kw: Any) -> ToolSpec[Any, Any]:
    return ToolSpec(
        name=name,
        title=name.title(),
        description=f"{name} at most {{text.max_new_tokens}} values",
        request=request,
        result=Result,
        annotations=PURE,
        **kw,
    )


def make_server() -> tuple[MCPServer[Any], dict[str, Any]]:
    server: MCPServer[Any] = MCPServer("test", log_level="CRITICAL")
    tools = ToolPublisher(server, LIMITS)
    seen: dict[str, Any] = {}

    def add_long(request: Request, progress: Progress) -> Result:
        for i in range(3):
            progress(i + 1, 3, f"value {i + 1}")
        seen["thread"] = threading.current_thread().name
        return add(request)

    def doubled(request: CallRequest, ctx: Context[Any]) -> int:
        seen["resolver_request"] = request
        return 2 * sum(request.values)

    def question(request: CallRequest, ctx: Context[Any], doubled: int) -> Sample:
        text = TextContent(type="text", text=f"say {doubled}")
        return Sample([SamplingMessage(role="user", content=text)], max_tokens=5)

    async def ask(request: CallRequest, ctx: Context[Any], doubled: int) -> Any:
        if request.confirm:
            return Confirm()  # accepted without asking
        return Elicit(f"add {request.values}?", Confirm)

    async def with_resolvers(
        request: CallRequest,
        ctx: Context[Any],
        doubled: int,
        reply: CreateMessageResult,
        asked: ElicitationResult[Any],
    ) -> Result:
        assert isinstance(reply.content, TextContent)
        if not isinstance(asked, AcceptedElicitation):
            return Result(total=-1)
        return Result(total=doubled + int(reply.content.text))

    def png_content(result: Result) -> list[ImageContent]:
        return [ImageContent(type="image", data="iVBORw0KGgo=", mime_type="image/png")]

    tools.add(spec("add"), add)
    tools.add_long(spec("add_long", content=png_content), add_long)
    resolvers = [
        Resolver("doubled", doubled),
        Resolver("reply", question, needs=("doubled",)),
        Resolver("asked", ask, needs=("doubled",), outcome=True),
    ]
    tools.add_resolving(spec("resolving", CallRequest), with_resolvers, resolvers)
    return server, seen


async def sampling(context: Any, params: Any) -> CreateMessageResult:
    return CreateMessageResult(role="assistant", content=TextContent(type="text", text="5"), model="m")


def test_schema_is_flat_with_live_limits_defaults_and_constraints() -> None:
    async def main() -> None:
        server, _ = make_server()
        async with Client(server) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            tool = tools["add"]
            assert tool.description == "add at most 7 values"
            props = tool.input_schema["properties"]
            assert tool.input_schema["required"] == ["values"]
            assert props["values"]["description"] == "numbers to add, at most 7"
            assert props["scale"] == {
                "default": 2,
                "description": "multiplier",
                "maximum": 10,
                "minimum": 1,
                "title": "Scale",
                "type": "integer",
            }
            assert tool.output_schema is not None and tool.output_schema["required"] == ["total"]
            # Resolved values are not arguments; call-only fields are.
            assert set(tools["resolving"].input_schema["properties"]) == {
                "values",
                "scale",
                "mode",
                "confirm",
            }

    anyio.run(main)


def test_errors_reach_the_client_only_when_expected_with_the_variable_named() -> None:
    async def main() -> None:
        server, _ = make_server()
        async with Client(server) as client:
            ok = await client.call_tool("add", {"values": [1, 2]})
            assert ok.structured_content == {"total": 6}

            cross = await client.call_tool("add", {"values": [1, 2, 3, 4], "scale": 6})
            assert cross.is_error and "only allowed with up to 3 values, got 4" in text_of(cross)

            limit = await client.call_tool("add", {"values": list(range(8))})
            assert limit.is_error
            assert "values is 8, over the limit of 7 (raise it with GENAI_MCP_MAX_NEW_TOKENS)" in text_of(
                limit
            )

            roots = await client.call_tool("add", {"values": [1], "mode": "path"})
            assert "no file roots are configured (see GENAI_MCP_ROOTS)" in text_of(roots)

            schema = await client.call_tool("add", {"values": [1], "scale": 11})
            assert schema.is_error and "less than or equal to 10" in text_of(schema)

            bug = await client.call_tool("add", {"values": [1], "mode": "crash"})
            assert bug.is_error and "internal detail" not in text_of(bug)

            again = await client.call_tool("add", {"values": [5]})
            assert again.structured_content == {"total": 10}

    anyio.run(main)


def test_long_work_reports_progress_from_a_worker_thread_and_content_follows_the_json() -> None:
    async def main() -> None:
        server, seen = make_server()
        steps: list[tuple[float, float | None, str | None]] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            steps.append((progress, total, message))

        async with Client(server) as client:
            result = await client.call_tool("add_long", {"values": [1, 2]}, progress_callback=on_progress)
        assert result.structured_content == {"total": 6}
        # Coalesced (server/longwork.py): increasing, and the last one is the last step.
        assert [s[0] for s in steps] == sorted({s[0] for s in steps})
        assert steps[-1] == (3, 3, "value 3")
        assert seen["thread"] != threading.main_thread().name
        text, image = result.content
        assert isinstance(text, TextContent) and '"total": 6' in text.text
        assert isinstance(image, ImageContent)

    anyio.run(main)


def test_resolvers_get_the_validated_request_in_both_protocol_eras() -> None:
    async def decline(context: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="decline")

    async def accept(context: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="accept", content={"ok": True})

    async def main() -> None:
        for mode in ("auto", "legacy"):
            server, seen = make_server()
            async with Client(
                server, mode=mode, sampling_callback=sampling, elicitation_callback=accept
            ) as c:
                result = await c.call_tool("resolving", {"values": [1, 2], "scale": 3})
                assert result.structured_content == {"total": 11}, mode  # 2 * 3 + 5
                assert isinstance(seen["resolver_request"], CallRequest)
                assert seen["resolver_request"].scale == 3
            server, _ = make_server()
            async with Client(
                server, mode=mode, sampling_callback=sampling, elicitation_callback=decline
            ) as c:
                declined = await c.call_tool("resolving", {"values": [1]})
                assert declined.structured_content == {"total": -1}, mode
                confirmed = await c.call_tool("resolving", {"values": [1], "confirm": True})
                assert confirmed.structured_content == {"total": 7}, mode

    anyio.run(main)


def test_a_request_the_resolvers_refuse_is_a_tool_error() -> None:
    async def main() -> None:
        server, _ = make_server()
        async with Client(server, sampling_callback=sampling) as client:
            bad = await client.call_tool("resolving", {"values": [1, 2, 3, 4], "scale": 6})
            assert bad.is_error and "only allowed with up to 3 values" in text_of(bad)

    anyio.run(main)
