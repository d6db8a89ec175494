"""Look inside the models: parameter accounting, KV-cache memory, attention maps.

    inspect_model(request, adapters=None, models=None) -> ModelAnatomy       (params.py)
        a loaded model's parameters by component and layer, counted from its modules
    count_parameters(request) -> AnalyticCount                               (analytic.py)
        the same breakdown from a transformer's sizes and conventions, nothing loaded
    attention_maps(request, progress=None, policy=, limits=, models=) -> AttentionMaps
        [CLS] attention, rollout and mean attention distance of a ViT-style model (attention.py)

Importing this package imports no torch; the first call does.
"""

from __future__ import annotations

from genai_mcp.tools.anatomy.analytic import AnalyticCount, CountRequest, Term, count_parameters
from genai_mcp.tools.anatomy.attention import AttentionMaps, attention_maps
from genai_mcp.tools.anatomy.params import count_modules, inspect_model
from genai_mcp.tools.anatomy.schemas import (
    AnatomyLimits,
    AttentionMapInfo,
    AttentionMapRequest,
    AttentionMapResult,
    InspectRequest,
    ModelAnatomy,
    ParameterBreakdown,
)

__all__ = [
    "AnalyticCount",
    "AnatomyLimits",
    "AttentionMapInfo",
    "AttentionMapRequest",
    "AttentionMapResult",
    "AttentionMaps",
    "CountRequest",
    "InspectRequest",
    "ModelAnatomy",
    "ParameterBreakdown",
    "Term",
    "attention_maps",
    "count_modules",
    "count_parameters",
    "inspect_model",
]
