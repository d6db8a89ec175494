"""Ranked-retrieval metrics: precision@k, recall@k, nDCG@k and MRR, per query and averaged.

`retrieval_metrics(RetrievalMetricsRequest) -> RetrievalMetricsResult`. Definitions (k is the cutoff,
"hits" the relevant ids among the first k retrieved):

    precision@k = hits / k                      (k, not the ranking length, even if fewer were retrieved)
    recall@k    = hits / (number of relevant ids)
    RR          = 1 / rank of the first relevant id in the whole ranking; 0 if none is retrieved
    nDCG@k      = DCG@k / IDCG@k,  DCG@k = sum_{i=1..k} gain(doc_i) / log2(i + 1)
                  gain = 1 for a relevant id (or its grade when grades are given), 0 otherwise;
                  IDCG@k = the DCG@k of the relevant ids sorted by gain, best first.

Averages are macro means over queries. Plain Python: nothing heavy to import.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BaseModel, Field, field_validator, model_validator

from genai_mcp.tools.errors import LimitExceededError

__all__ = [
    "MAX_ID_CHARS",
    "MAX_K",
    "MAX_KS",
    "MAX_QUERIES",
    "MAX_RANKING_LENGTH",
    "MAX_RELEVANT_PER_QUERY",
    "MAX_TOTAL_IDS",
    "MetricsAtK",
    "QueryMetrics",
    "RetrievalMetricsRequest",
    "RetrievalMetricsResult",
    "RetrievalQuery",
    "retrieval_metrics",
]

MAX_QUERIES = 10_000
MAX_RANKING_LENGTH = 10_000
"""Retrieved ids per query."""
MAX_RELEVANT_PER_QUERY = 10_000
MAX_TOTAL_IDS = 1_000_000
"""Retrieved plus relevant ids over all queries together."""
MAX_K = 1_000
MAX_KS = 20
"""Distinct cutoffs per request."""
MAX_ID_CHARS = 1_000

DocId = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]
Grade = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]


class RetrievalQuery(BaseModel):
    """One query: what the system ranked and what is relevant."""

    query_id: Annotated[str, Field(max_length=MAX_ID_CHARS)] | None = Field(
        default=None, description="Optional name echoed back in the per-query result."
    )
    retrieved: list[DocId] = Field(
        max_length=MAX_RANKING_LENGTH,
        description=(
            f"Retrieved document ids, best first (rank 1 first); at most {MAX_RANKING_LENGTH}, no id twice. "
            "May be empty (every metric is then 0)."
        ),
    )
    relevant: (
        Annotated[list[DocId], Field(min_length=1, max_length=MAX_RELEVANT_PER_QUERY)]
        | Annotated[dict[DocId, Grade], Field(min_length=1, max_length=MAX_RELEVANT_PER_QUERY)]
    ) = Field(
        description=(
            "The relevant ids: a list (binary relevance, gain 1 each) or an object mapping id -> grade "
            "(a number >= 0 used as the nDCG gain; ids with grade 0 count as not relevant for "
            f"precision, recall and RR). At least one relevant id; at most {MAX_RELEVANT_PER_QUERY}."
        )
    )

    @model_validator(mode="after")
    def _well_formed(self) -> RetrievalQuery:
        seen: dict[str, int] = {}
        for rank, doc in enumerate(self.retrieved, start=1):
            if doc in seen:
                raise ValueError(
                    f"retrieved lists id {doc!r} twice (ranks {seen[doc]} and {rank}); "
                    "a ranking must not repeat an id"
                )
            seen[doc] = rank
        if isinstance(self.relevant, list):
            listed: set[str] = set()
            for doc in self.relevant:
                if doc in listed:
                    raise ValueError(f"relevant lists id {doc!r} more than once")
                listed.add(doc)
        if isinstance(self.relevant, dict) and not any(g > 0 for g in self.relevant.values()):
            raise ValueError("relevant grades are all 0: at least one id needs a grade > 0")
        return self

    def gains(self) -> dict[str, float]:
        """The relevant ids (grade > 0) and their gains."""
        if isinstance(self.relevant, list):
            return dict.fromkeys(self.relevant, 1.0)
        return {doc: g for doc, g in self.relevant.items() if g > 0}


class RetrievalMetricsRequest(BaseModel):
    queries: list[RetrievalQuery] = Field(
        min_length=1, max_length=MAX_QUERIES, description=f"1 to {MAX_QUERIES} queries."
    )
    k: int | list[int] = Field(
        default=10,
        description=(
            f"Cutoff(s) for precision@k, recall@k and nDCG@k: one integer or a list of up to {MAX_KS}, "
            f"each from 1 to {MAX_K}."
        ),
    )

    @field_validator("k")
    @classmethod
    def _k_in_range(cls, k: int | list[int]) -> int | list[int]:
        ks = [k] if isinstance(k, int) else k
        if not ks:
            raise ValueError("k is an empty list; give at least one cutoff")
        if len(set(ks)) > MAX_KS:
            raise ValueError(f"k lists {len(set(ks))} distinct cutoffs, over the limit of {MAX_KS}")
        for value in ks:
            if not 1 <= value <= MAX_K:
                raise ValueError(f"k must be from 1 to {MAX_K}, got {value}")
        return k

    def ks(self) -> list[int]:
        """The distinct cutoffs, ascending."""
        return sorted({self.k} if isinstance(self.k, int) else set(self.k))


class MetricsAtK(BaseModel):
    k: int
    precision: float = Field(description="Relevant ids among the top k, divided by k; 0-1.")
    recall: float = Field(description="Relevant ids among the top k, divided by all relevant ids; 0-1.")
    ndcg: float = Field(description="DCG@k / ideal DCG@k with log2(rank + 1) discount; 0-1.")


class QueryMetrics(BaseModel):
    query_id: str | None
    num_relevant: int = Field(description="Relevant ids (grade > 0) for this query.")
    first_relevant_rank: int | None = Field(
        description="1-based rank of the first relevant id; null if none."
    )
    reciprocal_rank: float = Field(description="1 / first_relevant_rank over the whole ranking; 0 if none.")
    at_k: list[MetricsAtK] = Field(description="One entry per cutoff, ascending k.")


class RetrievalMetricsResult(BaseModel):
    n_queries: int
    ks: list[int] = Field(description="The cutoffs used, ascending.")
    mrr: float = Field(description="Mean reciprocal rank: mean of reciprocal_rank over queries; 0-1.")
    mean_at_k: list[MetricsAtK] = Field(description="Per cutoff, the mean over queries of each metric.")
    per_query: list[QueryMetrics] = Field(description="One entry per query, in request order.")


def retrieval_metrics(request: RetrievalMetricsRequest) -> RetrievalMetricsResult:
    """Per-query and mean precision@k, recall@k, nDCG@k and reciprocal rank (definitions above).

    Raises LimitExceededError when the queries hold more than MAX_TOTAL_IDS ids in all.
    """
    total = sum(len(q.retrieved) + len(q.relevant) for q in request.queries)
    if total > MAX_TOTAL_IDS:
        raise LimitExceededError(
            "the number of retrieved plus relevant ids over all queries", total, MAX_TOTAL_IDS
        )
    ks = request.ks()
    per_query = [_score_query(q, ks) for q in request.queries]
    n = len(per_query)
    mean_at_k = [
        MetricsAtK(
            k=k,
            precision=sum(q.at_k[j].precision for q in per_query) / n,
            recall=sum(q.at_k[j].recall for q in per_query) / n,
            ndcg=sum(q.at_k[j].ndcg for q in per_query) / n,
        )
        for j, k in enumerate(ks)
    ]
    return RetrievalMetricsResult(
        n_queries=n,
        ks=ks,
        mrr=sum(q.reciprocal_rank for q in per_query) / n,
        mean_at_k=mean_at_k,
        per_query=per_query,
    )


def _dcg(gains: list[float]) -> float:
    return sum(g / math.log2(rank + 1) for rank, g in enumerate(gains, start=1))


def _score_query(query: RetrievalQuery, ks: list[int]) -> QueryMetrics:
    gains = query.gains()
    first = next((rank for rank, doc in enumerate(query.retrieved, start=1) if doc in gains), None)
    ranked_gains = [gains.get(doc, 0.0) for doc in query.retrieved[: ks[-1]]]
    ideal_gains = sorted(gains.values(), reverse=True)
    at_k = []
    for k in ks:
        hits = sum(1 for g in ranked_gains[:k] if g > 0)
        at_k.append(
            MetricsAtK(
                k=k,
                precision=hits / k,
                recall=hits / len(gains),
                ndcg=_dcg(ranked_gains[:k]) / _dcg(ideal_gains[:k]),
            )
        )
    return QueryMetrics(
        query_id=query.query_id,
        num_relevant=len(gains),
        first_relevant_rank=first,
        reciprocal_rank=1.0 / first if first else 0.0,
        at_k=at_k,
    )
