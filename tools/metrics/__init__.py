"""Evaluation metrics: text overlap (BLEU, chrF, ROUGE), classification/regression, ranked retrieval.

Each capability is a request model, a result model and a function taking the one and returning the
other. Importing this package is cheap: sacrebleu, rouge_score, scikit-learn and numpy load on the
first call that needs them.
"""

from __future__ import annotations

from genai_mcp.tools.metrics.classification import (
    ClassificationMetricsRequest,
    ClassificationMetricsResult,
    classification_metrics,
)
from genai_mcp.tools.metrics.retrieval import (
    RetrievalMetricsRequest,
    RetrievalMetricsResult,
    retrieval_metrics,
)
from genai_mcp.tools.metrics.text import TextMetricsRequest, TextMetricsResult, text_metrics

__all__ = [
    "ClassificationMetricsRequest",
    "ClassificationMetricsResult",
    "RetrievalMetricsRequest",
    "RetrievalMetricsResult",
    "TextMetricsRequest",
    "TextMetricsResult",
    "classification_metrics",
    "retrieval_metrics",
    "text_metrics",
]
