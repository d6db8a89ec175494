"""MCP tools for evaluation metrics: text, classification and retrieval."""

from __future__ import annotations

from genai_mcp.server import apps
from genai_mcp.server.adapters import ToolPublisher, ToolSpec
from genai_mcp.server.annotations import PURE
from genai_mcp.server.state import ServerState
from genai_mcp.tools import metrics

__all__ = ["register"]


TEXT_METRICS = ToolSpec(
    name="text_metrics",
    title="Text metrics (BLEU, chrF, ROUGE)",
    description=(
        "Score candidate texts against one or more references each: BLEU (sacrebleu; score, 1-4-gram "
        "precisions, brevity penalty), chrF, and ROUGE-1/2/L precision/recall/F1 with stemming, "
        "corpus-level and per candidate; on request ROUGE-S/SU (skip-bigrams with an optional maximum "
        "skip, + unigrams; counted as ROUGE-1.5.5 does, reproducing Lin 2004's worked example)."
    ),
    request=metrics.TextMetricsRequest,
    result=metrics.TextMetricsResult,
    annotations=PURE,
    view=apps.METRICS,
)
CLASSIFICATION_METRICS = ToolSpec(
    name="classification_metrics",
    title="Classification metrics",
    description=(
        "Accuracy, precision, recall, F1 (binary/macro/micro/weighted), specificity, per-class scores and "
        "the confusion matrix with its label order, from true and predicted labels; or MSE/MAE/RMSE for "
        "regression values."
    ),
    request=metrics.ClassificationMetricsRequest,
    result=metrics.ClassificationMetricsResult,
    annotations=PURE,
    view=apps.METRICS,
)
RETRIEVAL_METRICS = ToolSpec(
    name="retrieval_metrics",
    title="Retrieval metrics (precision@k, recall@k, MRR, nDCG)",
    description=(
        "Per query and averaged: precision@k = relevant in top k / k, recall@k = relevant retrieved in "
        "top k / all relevant, MRR and nDCG@k, from ranked retrieved ids and the relevant ids."
    ),
    request=metrics.RetrievalMetricsRequest,
    result=metrics.RetrievalMetricsResult,
    annotations=PURE,
    view=apps.METRICS,
)


def register(tools: ToolPublisher, state: ServerState) -> None:
    tools.add(TEXT_METRICS, metrics.text_metrics)
    tools.add(CLASSIFICATION_METRICS, metrics.classification_metrics)
    tools.add(RETRIEVAL_METRICS, metrics.retrieval_metrics)
