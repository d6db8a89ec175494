"""The metrics tools through an in-memory MCP client: schemas, results, and every refusal."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client

from genai_mcp.server.app import create_server
from tests.helpers.results import text_of

BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("classification_metrics", {"y_true": [1, 0], "y_pred": [1]}, "y_true has 2 items but y_pred has 1"),
    ("classification_metrics", {"y_true": [], "y_pred": []}, "at least 1 item"),
    ("classification_metrics", {"y_true": [1, 0], "y_pred": [1, 0], "average": "avg"}, "'binary', 'macro'"),
    (
        "classification_metrics",
        {"y_true": [1.5, "a"], "y_pred": [1.0, 2.0], "task": "regression"},
        "needs numbers, but y_true[1] is the string 'a'",
    ),
    (
        "classification_metrics",
        {"y_true": [0, 1, 2], "y_pred": [0, 1, 2], "average": "binary"},
        "binary",
    ),
    ("text_metrics", {"candidates": ["a b"], "references": []}, "references"),
    ("text_metrics", {"candidates": [], "references": []}, "at least 1 item"),
    ("text_metrics", {"candidates": ["a"], "references": [["b"]], "metrics": ["meteor"]}, "'bleu'"),
    ("retrieval_metrics", {"queries": [{"retrieved": ["a"], "relevant": ["a"]}], "k": 0}, "k"),
    ("retrieval_metrics", {"queries": [], "k": 1}, "at least 1 item"),
    ("retrieval_metrics", {"queries": [{"retrieved": ["a", "a"], "relevant": ["a"]}], "k": 1}, "a"),
]


def run(fn: Any) -> None:
    async def main() -> None:
        async with Client(create_server()) as client:
            await fn(client)

    anyio.run(main)


def test_tools_have_schemas_and_all_annotations() -> None:
    async def check(client: Client) -> None:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        for name in ("text_metrics", "classification_metrics", "retrieval_metrics"):
            tool = tools[name]
            assert tool.output_schema and tool.input_schema["properties"], name
            a = tool.annotations
            assert a is not None
            assert (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint) == (
                True,
                False,
                True,
                False,
            )
            assert tool.description and tool.title

    run(check)


def test_each_refusal_names_the_problem_and_the_server_keeps_serving() -> None:
    async def check(client: Client) -> None:
        for name, args, expected in BAD_CALLS:
            result = await client.call_tool(name, args)
            assert result.is_error, (name, args)
            assert expected in text_of(result), (name, text_of(result))
            good = await client.call_tool(
                "retrieval_metrics", {"queries": [{"retrieved": ["x"], "relevant": ["x"]}]}
            )
            assert not good.is_error

    run(check)


def test_results_match_hand_computed_values() -> None:
    async def check(client: Client) -> None:
        # TP=2 FN=1 FP=0 TN=1: precision 1, recall 2/3, specificity 1/1, accuracy 3/4.
        r = await client.call_tool(
            "classification_metrics", {"y_true": [1, 0, 1, 1], "y_pred": [1, 0, 0, 1], "average": "binary"}
        )
        scores = (r.structured_content or {})["classification"]
        assert scores["precision"] == 1.0 and scores["recall"] == pytest.approx(2 / 3)
        assert scores["specificity"] == 1.0 and scores["accuracy"] == 0.75
        assert scores["labels"] == [0, 1] and scores["confusion_matrix"] == [[1, 0], [1, 2]]

        # Ranking [d3, d1, d2], relevant {d1, d2}: P@2 = 1/2, R@2 = 1/2, RR = 1/2.
        r = await client.call_tool(
            "retrieval_metrics",
            {"queries": [{"retrieved": ["d3", "d1", "d2"], "relevant": ["d1", "d2"]}], "k": 2},
        )
        out = r.structured_content or {}
        assert out["mrr"] == 0.5
        assert out["mean_at_k"][0] | {"ndcg": 0} == {"k": 2, "precision": 0.5, "recall": 0.5, "ndcg": 0}

        # Identical candidate and reference: BLEU 100, ROUGE F1 1.
        r = await client.call_tool(
            "text_metrics",
            {"candidates": ["the cat sat on the mat"], "references": [["the cat sat on the mat"]]},
        )
        out = r.structured_content or {}
        assert out["bleu"]["corpus"]["score"] == pytest.approx(100.0)
        assert out["rougeL"]["mean"]["f1"] == pytest.approx(1.0)

    run(check)
