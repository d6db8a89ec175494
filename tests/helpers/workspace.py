"""Things a server lists, made for real: a RAG collection, a generated image, a finished fine-tuning
job with its adapter, and a Hugging Face cache holding model repositories.

Prompts, completions and the browsing resources read these from a server's state; the tests make
them through the same stores and tools the server uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from mcp import Client
from PIL import Image

from genai_mcp.server.settings import ServerSettings
from genai_mcp.server.state import ServerState
from genai_mcp.tools.outputs import StoredOutput
from genai_mcp.tools.rag.store import Chunk, RagStore
from tests.helpers.results import ok

__all__ = ["TRAINING_TEXTS", "hub_cache", "rag_collection", "saved_output", "trained_job"]

TRAINING_TEXTS = [
    f"the heron number {i} fishes quietly by the {p} at dusk." for i, p in enumerate(["pond", "weir"] * 6)
]


def rag_collection(settings: ServerSettings, name: str, documents: dict[str, list[str]]) -> None:
    """A collection written by the server's RagStore; the vectors are unit vectors of 4 dimensions
    (what is listed here does not depend on the embedding model)."""
    rows = []
    for i, (doc_id, texts) in enumerate(documents.items()):
        chunks = [Chunk(document_id=doc_id, ordinal=j, text=t) for j, t in enumerate(texts)]
        vectors = np.zeros((len(texts), 4), dtype=np.float32)
        vectors[:, i % 4] = 1.0
        rows.append((doc_id, chunks, vectors))
    RagStore(settings.rag_dir).upsert(name, "test/unit-vectors", 4, rows)


def saved_output(settings: ServerSettings, kind: str = "sample") -> StoredOutput:
    """A PNG in the server's outputs folder, as a generating tool leaves it."""
    return ServerState.from_settings(settings).outputs.save_png(Image.new("RGB", (4, 3), "red"), kind)


async def trained_job(client: Client, name: str) -> dict[str, Any]:
    """A LoRA job on the house GPT-2 (4 steps), run to the end through lora_finetune; its JobInfo."""
    args = {
        "task": "causal-lm",
        "dataset": TRAINING_TEXTS,
        "name": name,
        "max_steps": 4,
        "batch_size": 4,
        "confirm": True,
        "wait_seconds": 300,
    }
    out = ok(await client.call_tool("lora_finetune", args))
    assert out["status"] == "succeeded", out["note"]
    job: dict[str, Any] = out["job"]
    return job


def hub_cache(root: Path, repo_ids: list[str]) -> Path:
    """A Hugging Face hub cache in the layout huggingface_hub writes, one snapshot per model repo."""
    revision = "0" * 40
    for repo_id in repo_ids:
        repo = root / ("models--" + repo_id.replace("/", "--"))
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text(revision)
        snapshot = repo / "snapshots" / revision
        snapshot.mkdir(parents=True)
        (snapshot / "config.json").write_text("{}")
    return root
