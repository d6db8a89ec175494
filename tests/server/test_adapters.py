"""register_model_tool: flat schemas from request models, and which errors reach the client."""

from __future__ import annotations

import anyio
from mcp import Client
from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field, model_validator

from genai_mcp.server.adapters import register_model_tool
from genai_mcp.tools.errors import LimitExceededError
from tests.conftest import text_of


class Request(BaseModel):
    values: list[int] = Field(description="numbers to add", min_length=1)
    scale: int = Field(2, ge=1, le=10, description="multiplier")
    mode: str = Field("sum", description="sum, or crash to simulate a bug")

    @model_validator(mode="after")
    def _check(self) -> Request:
        if len(self.values) > 3 and self.scale > 5:
            raise ValueError(
                f"scale {self.scale} is only allowed with up to 3 values, got {len(self.values)}"
            )
        return self


class Result(BaseModel):
    total: int


def add(request: Request) -> Result:
    if request.mode == "crash":
        raise RuntimeError("internal detail that must not leak")
    if sum(request.values) > 1000:
        raise LimitExceededError("sum of values", sum(request.values), 1000, "GENAI_MCP_TEST_LIMIT")
    return Result(total=sum(request.values) * request.scale)


def make_server() -> MCPServer:  # type: ignore[type-arg]
    server: MCPServer = MCPServer("test", log_level="CRITICAL")  # type: ignore[type-arg]
    annotations = ToolAnnotations(
        read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )
    register_model_tool(
        server, add, Request, Result, name="add", title="Add", description="adds", annotations=annotations
    )
    return server


def test_schema_is_flat_with_descriptions_defaults_and_constraints() -> None:
    async def main() -> None:
        async with Client(make_server()) as client:
            (tool,) = (await client.list_tools()).tools
            props = tool.input_schema["properties"]
            assert tool.input_schema["required"] == ["values"]
            assert props["scale"] == {
                "default": 2,
                "description": "multiplier",
                "maximum": 10,
                "minimum": 1,
                "title": "Scale",
                "type": "integer",
            }
            assert props["values"]["minItems"] == 1
            assert tool.output_schema is not None and tool.output_schema["required"] == ["total"]

    anyio.run(main)


def test_errors_reach_the_client_only_when_expected() -> None:
    async def main() -> None:
        async with Client(make_server()) as client:
            ok = await client.call_tool("add", {"values": [1, 2]})
            assert ok.structured_content == {"total": 6}

            cross = await client.call_tool("add", {"values": [1, 2, 3, 4], "scale": 6})
            assert cross.is_error and "only allowed with up to 3 values, got 4" in text_of(cross)

            limit = await client.call_tool("add", {"values": [999, 2]})
            assert limit.is_error
            assert "sum of values is 1001, over the limit of 1000" in text_of(limit)
            assert "GENAI_MCP_TEST_LIMIT" in text_of(limit)

            schema = await client.call_tool("add", {"values": [1], "scale": 11})
            assert schema.is_error and "less than or equal to 10" in text_of(schema)

            bug = await client.call_tool("add", {"values": [1], "mode": "crash"})
            assert bug.is_error and "internal detail" not in text_of(bug)

            again = await client.call_tool("add", {"values": [5]})
            assert again.structured_content == {"total": 10}

    anyio.run(main)
