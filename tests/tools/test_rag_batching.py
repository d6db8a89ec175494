"""Concurrent RAG embeddings share forward passes (issue 15): each caller gets exactly its own vectors.

Real MiniLM; callers are threads released together, after one warm call on the model so that the
burst's first caller waits for company (tools/models/batching.py).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest

from genai_mcp.tools import rag
from genai_mcp.tools.models.batching import ForwardBatcher
from genai_mcp.tools.rag.embed import Embedder, embedder
from tests.tools.test_batching import GENEROUS_S, together

QUERIES = ["where do rivers end", "capital of France", "how do cats purr", "a short one"]


@pytest.fixture(scope="module")
def encoder() -> Embedder:
    return embedder("all-MiniLM-L6-v2", "cpu")


def test_concurrent_queries_and_a_chunk_list_get_their_own_vectors(encoder: Embedder) -> None:
    chunks = [f"chunk {i}: " + "words about rivers and seas " * (i % 5 + 1) for i in range(40)]
    calls = [[q] for q in QUERIES] + [chunks]  # 40 chunks: a full group of 32 goes alone, 8 may share
    alone = [encoder.encode(texts) for texts in calls]
    batcher = ForwardBatcher(window_s=GENEROUS_S, max_batch=len(QUERIES))  # four queries fill a pass
    encoder.encode(["warm"], batcher)
    shared = together([partial(encoder.encode, texts, batcher) for texts in calls])
    stats = batcher.stats()
    assert stats.largest_batch > 1 and stats.forwards < 1 + len(QUERIES) + 2
    for a, b in zip(alone, shared, strict=True):
        assert not isinstance(b, BaseException)
        assert b.shape == a.shape and np.allclose(a, b, atol=1e-5)


def test_concurrent_searches_share_the_query_pass_and_find_the_same_hits(
    tmp_path: Path, encoder: Embedder
) -> None:
    store = rag.RagStore(tmp_path)
    docs = {
        "rivers": "Rivers flow downhill and end in a sea, a lake or another river.",
        "paris": "Paris is the capital of France.",
        "cats": "Cats are small mammals that purr and chase mice.",
    }
    rag.index_documents(
        rag.IndexRequest(collection="c", documents=[rag.DocumentIn(id=k, text=v) for k, v in docs.items()]),
        store=store,
    )
    limits = rag.RagLimits(model_device="cpu")
    requests = [rag.SearchRequest(collection="c", query=q, k=2, mode="dense") for q in QUERIES]
    alone = [rag.search(r, store, limits) for r in requests]
    batcher = ForwardBatcher(window_s=GENEROUS_S, max_batch=len(QUERIES))
    encoder.encode(["warm"], batcher)
    shared = together([partial(rag.search, r, store, limits, batcher=batcher) for r in requests])
    assert batcher.stats().largest_batch == len(QUERIES)
    for a, b in zip(alone, shared, strict=True):
        assert not isinstance(b, BaseException)
        assert [h.document_id for h in b.hits] == [h.document_id for h in a.hits]
        assert [h.score for h in b.hits] == pytest.approx([h.score for h in a.hits], abs=1e-5)
