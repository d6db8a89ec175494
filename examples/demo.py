"""The genai-mcp tour: start the server over stdio, as an MCP assistant would, and use its tools.

Run it with `make demo` (which sets up .venv first) or `python examples/demo.py`. Offline: every
model is a house model shipped inside the package.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from rich.console import Console
from rich.table import Table

console = Console()


def server_params(data_dir: str) -> StdioServerParameters:
    # The SDK's stdio child sees only an allow-listed environment: pass what the server needs.
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "genai_mcp.server.cli", "serve", "--log-level", "WARNING"],
        env={"HF_HUB_OFFLINE": "1", "GENAI_MCP_DATA_DIR": data_dir, "PATH": os.environ.get("PATH", "")},
    )


async def call(client: Client, name: str, args: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    result = await client.call_tool(name, args)
    elapsed = (time.perf_counter() - t0) * 1000
    if result.is_error:
        raise SystemExit(f"{name} failed: {result.content[0]}")
    console.print(f"[bold cyan]{name}[/] answered in {elapsed:.1f} ms")
    assert result.structured_content is not None
    return dict(result.structured_content)


def show(title: str, rows: list[tuple[str, Any]]) -> None:
    table = Table(title=title, show_header=False, title_justify="left")
    for key, value in rows:
        table.add_row(key, value if isinstance(value, str) else json.dumps(value))
    console.print(table)


async def metrics_tour(client: Client) -> None:
    text = await call(
        client,
        "text_metrics",
        {
            "candidates": ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."],
            "references": [
                ["The dog bit the man.", "The dog had bit the man."],
                ["It was not unexpected.", "No one was surprised."],
                ["The man bit him first.", "The man had bitten the dog."],
            ],
        },
    )
    bleu, chrf = text["bleu"], text["chrf"]
    show(
        "text_metrics, corpus level",
        [
            ("BLEU", f"{bleu['corpus']['score']:.2f}"),
            ("1-4-gram precisions %", ", ".join(f"{p:.1f}" for p in bleu["corpus"]["precisions"])),
            ("brevity penalty", f"{bleu['corpus']['brevity_penalty']:.3f}"),
            ("chrF", f"{chrf['corpus']:.2f}"),
            *(
                (name.upper(), "P {precision:.3f}  R {recall:.3f}  F1 {f1:.3f}".format(**text[name]["mean"]))
                for name in ("rouge1", "rouge2", "rougeL")
            ),
        ],
    )

    cls = await call(
        client,
        "classification_metrics",
        {
            "y_true": ["cat", "dog", "dog", "bird", "cat"],
            "y_pred": ["cat", "dog", "cat", "bird", "cat"],
            "average": "macro",
        },
    )
    scores = cls["classification"]
    show(
        "classification_metrics, macro average",
        [
            *((k, f"{scores[k]:.3f}") for k in ("accuracy", "precision", "recall", "f1", "specificity")),
            ("labels (rows = true)", scores["labels"]),
            *(
                (f"  {label}", row)
                for label, row in zip(scores["labels"], scores["confusion_matrix"], strict=True)
            ),
        ],
    )

    ret = await call(
        client,
        "retrieval_metrics",
        {
            "queries": [
                {"retrieved": ["d3", "d1", "d7", "d2"], "relevant": ["d1", "d2"]},
                {"retrieved": ["d5", "d6", "d4"], "relevant": ["d4"]},
            ],
            "k": 3,
        },
    )
    show(
        "retrieval_metrics, mean over 2 queries",
        [("MRR", f"{ret['mrr']:.3f}")]
        + [
            (f"@{m['k']}", f"precision {m['precision']:.3f}  recall {m['recall']:.3f}  nDCG {m['ndcg']:.3f}")
            for m in ret["mean_at_k"]
        ],
    )


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="genai-mcp-demo-") as data_dir:
        console.rule("genai-mcp over stdio")
        t0 = time.perf_counter()
        async with Client(server_params(data_dir)) as client:
            tools = (await client.list_tools()).tools
            console.print(f"connected and listed {len(tools)} tools in {time.perf_counter() - t0:.2f} s:")
            for tool in tools:
                console.print(f"  [green]{tool.name}[/]  {tool.title or ''}")
            await metrics_tour(client)
        console.rule("done")


if __name__ == "__main__":
    anyio.run(main)
