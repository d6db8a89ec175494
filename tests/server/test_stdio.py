"""A real `genai-mcp serve` process over stdio, as Claude Desktop or VS Code would start it."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

from tests.helpers.processes import find_pid, loaded_shared_objects, server_env


def test_stdio_lists_tools_without_torch_and_calls_a_metric(tmp_path: Path) -> None:
    marker = str(tmp_path / "stdio-data")
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "genai_mcp.server.cli", "serve", "--data-dir", marker],
        env=server_env(tmp_path),
    )

    async def main() -> None:
        async with Client(params) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert {"text_metrics", "classification_metrics", "retrieval_metrics"} <= set(tools)
            for tool in tools.values():
                a = tool.annotations
                assert a is not None and None not in (
                    a.read_only_hint,
                    a.destructive_hint,
                    a.idempotent_hint,
                    a.open_world_hint,
                ), tool.name
                assert tool.output_schema is not None, tool.name
            maps = loaded_shared_objects(find_pid(marker))
            assert "libtorch" not in maps, "initialize + tools/list must not import torch"

            result = await client.call_tool(
                "classification_metrics",
                {"y_true": [1, 0, 1, 1], "y_pred": [1, 0, 0, 1], "average": "binary"},
            )
            assert not result.is_error, result.content
            assert result.structured_content is not None
            assert result.structured_content["classification"]["accuracy"] == 0.75

            bad = await client.call_tool("classification_metrics", {"y_true": [1, 0], "y_pred": [1]})
            assert bad.is_error
            again = await client.call_tool("classification_metrics", {"y_true": [1, 0], "y_pred": [1, 0]})
            assert not again.is_error

    anyio.run(main)
