"""retrieval_metrics against hand-computed P@k, R@k, MRR and nDCG, and scikit-learn's ndcg_score."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from genai_mcp.tools.errors import LimitExceededError
from genai_mcp.tools.metrics import RetrievalMetricsRequest, retrieval_metrics
from genai_mcp.tools.metrics import retrieval as retrieval_module


def run(queries, k):
    return retrieval_metrics(RetrievalMetricsRequest(queries=queries, k=k))


def test_binary_relevance_by_hand():
    # ranking d1 d2 d3 d4 d5, relevant {d2, d4, d9} (d9 never retrieved); first relevant at rank 2 -> RR 1/2
    # IDCG@3 = IDCG@5 = 1/log2(2) + 1/log2(3) + 1/log2(4) = 1 + 0.6309 + 0.5 = 2.1309
    # @1: hits 0 -> P 0, R 0, nDCG 0
    # @3: hits 1 (d2) -> P 1/3, R 1/3, DCG 1/log2(3) = 0.6309 -> nDCG 0.2961
    # @5: hits 2 -> P 2/5, R 2/3, DCG 1/log2(3) + 1/log2(5) = 1.0616 -> nDCG 0.4982
    # @10: same hits but P divides by k: 2/10
    result = run(
        [{"retrieved": ["d1", "d2", "d3", "d4", "d5"], "relevant": ["d2", "d4", "d9"]}], [10, 1, 5, 3]
    )
    q = result.per_query[0]
    assert result.ks == [1, 3, 5, 10]
    assert (q.first_relevant_rank, q.reciprocal_rank, q.num_relevant) == (2, 0.5, 3)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    dcg5 = 1 / math.log2(3) + 1 / math.log2(5)
    expected = [
        (1, 0.0, 0.0, 0.0),
        (3, 1 / 3, 1 / 3, (1 / math.log2(3)) / idcg),
        (5, 2 / 5, 2 / 3, dcg5 / idcg),
        (10, 2 / 10, 2 / 3, dcg5 / idcg),
    ]
    got = [(m.k, m.precision, m.recall, m.ndcg) for m in q.at_k]
    assert got == [pytest.approx(e) for e in expected]
    assert q.at_k[1].ndcg == pytest.approx(0.2961, abs=1e-4)
    assert q.at_k[2].ndcg == pytest.approx(0.4982, abs=1e-4)


def test_means_are_macro_over_queries_and_misses_score_zero():
    # q1: relevant at rank 1 -> RR 1, P@2 1/2, R@2 1; q2: nothing relevant retrieved -> all 0
    result = run(
        [
            {"query_id": "q1", "retrieved": ["a", "b"], "relevant": ["a"]},
            {"query_id": "q2", "retrieved": ["x", "y"], "relevant": ["z"]},
            {"query_id": "q3", "retrieved": [], "relevant": ["z"]},
        ],
        2,
    )
    assert [q.query_id for q in result.per_query] == ["q1", "q2", "q3"]
    assert result.per_query[1].first_relevant_rank is None
    assert result.per_query[1].reciprocal_rank == 0.0
    assert result.mrr == pytest.approx(1 / 3)
    mean = result.mean_at_k[0]
    assert (mean.k, mean.precision, mean.recall, mean.ndcg) == pytest.approx((2, 1 / 6, 1 / 3, 1 / 3))


def test_graded_relevance_by_hand_and_against_sklearn():
    from sklearn.metrics import ndcg_score

    # grades a 1, b 0 (judged, not relevant), c 3, d 2 (not retrieved); ranking a b c
    # @3: hits 2 (a, c) -> P 2/3, R 2/3 (3 relevant ids: a, c, d)
    # DCG = 1/log2(2) + 0/log2(3) + 3/log2(4) = 2.5; IDCG = 3/1 + 2/log2(3) + 1/log2(4) = 4.7619
    query = {"retrieved": ["a", "b", "c"], "relevant": {"a": 1, "b": 0, "c": 3, "d": 2}}
    q = run([query], 3).per_query[0]
    at3 = q.at_k[0]
    assert (at3.precision, at3.recall) == pytest.approx((2 / 3, 2 / 3))
    assert at3.ndcg == pytest.approx(2.5 / (3 + 2 / math.log2(3) + 0.5))
    # sklearn: docs a, b, c, d with true grades and scores that reproduce our ranking (d last)
    assert at3.ndcg == pytest.approx(ndcg_score([[1, 0, 3, 2]], [[4, 3, 2, 1]], k=3))
    assert (q.num_relevant, q.reciprocal_rank) == (3, 1.0)


def test_duplicate_ids_in_a_ranking_are_rejected():
    with pytest.raises(ValidationError, match=r"retrieved lists id 'd1' twice \(ranks 1 and 3\)"):
        RetrievalMetricsRequest(queries=[{"retrieved": ["d1", "d2", "d1"], "relevant": ["d1"]}])


@pytest.mark.parametrize(
    ("k", "needle"),
    [(0, "k must be from 1 to 1000, got 0"), (1001, "got 1001"), ([], "empty list"), ([5, -1], "got -1")],
)
def test_k_out_of_range(k, needle):
    with pytest.raises(ValidationError, match=needle):
        RetrievalMetricsRequest(queries=[{"retrieved": ["a"], "relevant": ["a"]}], k=k)


@pytest.mark.parametrize(
    ("queries", "needle"),
    [
        ([], "at least 1 item"),
        ([{"retrieved": ["a"], "relevant": []}], "at least 1 item"),
        ([{"retrieved": ["a"], "relevant": ["a", "a"]}], "relevant lists id 'a' more than once"),
        ([{"retrieved": ["a"], "relevant": {"a": 0}}], "grades are all 0"),
        ([{"retrieved": ["a"], "relevant": {"a": -1}}], "greater than or equal to 0"),
        ([{"retrieved": [""], "relevant": ["a"]}], "at least 1 character"),
    ],
)
def test_invalid_queries(queries, needle):
    with pytest.raises(ValidationError, match=needle):
        RetrievalMetricsRequest(queries=queries)


def test_total_ids_limit(monkeypatch):
    # The real limit (1,000,000 ids) would take seconds to build; lower it to test its enforcement.
    monkeypatch.setattr(retrieval_module, "MAX_TOTAL_IDS", 5)
    request = RetrievalMetricsRequest(queries=[{"retrieved": ["a", "b", "c"], "relevant": ["a", "b", "c"]}])
    with pytest.raises(LimitExceededError, match="ids over all queries is 6, over the limit of 5"):
        retrieval_metrics(request)
