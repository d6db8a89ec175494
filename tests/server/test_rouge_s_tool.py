"""text_metrics' ROUGE-S/SU over MCP (in memory): the published options, Lin 2004's worked example,
and the refusals as tool errors that name the problem and the limit."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client

from genai_mcp.server.app import create_server
from genai_mcp.tools.metrics.text_schemas import MAX_ROUGE_S_UNITS
from tests.helpers.results import ok, text_of

REFERENCE = "police killed the gunman"
CANDIDATES = ["police kill the gunman", "the gunman kill police", "the gunman police killed"]


def test_rouge_s_and_su_through_the_tool() -> None:
    async def main() -> None:
        async with Client(create_server()) as client:
            tool = next(t for t in (await client.list_tools()).tools if t.name == "text_metrics")
            props = tool.input_schema["properties"]
            assert {"rougeS", "rougeSU"} <= set(props["metrics"]["items"]["enum"])
            assert props["metrics"]["default"] == ["bleu", "chrf", "rouge1", "rouge2", "rougeL"]
            assert props["rouge_s_max_skip"]["anyOf"][0]["minimum"] == 0
            assert "ROUGE-1.5.5" in props["rouge_s_max_skip"]["description"]
            assert props["rouge_stemming"]["default"] is True

            args: dict[str, Any] = {
                "candidates": CANDIDATES,
                "references": [[REFERENCE]] * 3,
                "metrics": ["rougeS", "rougeSU"],
                "rouge_stemming": False,
            }
            out = ok(await client.call_tool("text_metrics", args))
            assert [s["f1"] for s in out["rougeS"]["per_candidate"]] == pytest.approx([1 / 2, 1 / 6, 1 / 3])
            assert [s["f1"] for s in out["rougeSU"]["per_candidate"]] == pytest.approx([5 / 9, 2 / 9, 4 / 9])
            assert out["bleu"] is None and out["rougeL"] is None

            long_text = " ".join(f"w{i}" for i in range(2100))
            too_much = {"candidates": [long_text], "references": [[long_text]], "metrics": ["rougeSU"]}
            refused = await client.call_tool("text_metrics", too_much)
            assert refused.is_error
            assert f"over the limit of {MAX_ROUGE_S_UNITS}" in text_of(refused)
            assert "set rouge_s_max_skip" in text_of(refused)
            negative = {**args, "rouge_s_max_skip": -1}
            refused = await client.call_tool("text_metrics", negative)
            assert refused.is_error and "rouge_s_max_skip" in text_of(refused)

    anyio.run(main)
