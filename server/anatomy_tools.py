"""MCP tools that look inside the models: inspect_model, count_parameters and attention_map.

inspect_model and attention_map load through the server's model cache like the other model tools
(attention_map as an eager-attention entry of its own, tools/anatomy/attention.py); count_parameters
loads nothing. attention_map's heatmaps go out as the other image tools' do: a capped preview and a
resource link per full-size PNG (server/content.py).
"""

from __future__ import annotations

from mcp.types import ContentBlock

from genai_mcp.server.adapters import ToolPublisher, ToolSpec
from genai_mcp.server.annotations import PURE, WRITES_NEW
from genai_mcp.server.content import image_blocks, link, preview_of, store_image
from genai_mcp.server.limits import build_limits
from genai_mcp.server.state import ServerState
from genai_mcp.tools import anatomy
from genai_mcp.tools.progress import Progress

__all__ = ["ATTENTION", "COUNT", "INSPECT", "register"]


def attention_content(result: anatomy.AttentionMapResult) -> list[ContentBlock]:
    where = "mean over heads" if result.head is None else f"head {result.head}"
    links = [
        link(image, f"image {i + 1}: input | [CLS] attention (layer {result.layer}, {where}) | rollout")
        for i, image in enumerate(result.heatmaps)
    ]
    return image_blocks(result.preview, links)


INSPECT = ToolSpec(
    name="inspect_model",
    title="Inspect a model's architecture (parameters, sizes, memory)",
    description=(
        "For a model loaded by task like the other tools (house models, local folders, cached hub ids): "
        "parameters by component (embeddings, positional, attention, feed-forward, normalisation, head, "
        "LoRA) per layer and in total, counted from the instantiated modules (tied weights once); "
        "trainable vs frozen; with `adapter`, the LoRA share; the key config values (layers, heads, d_model, "
        "d_ff, vocabulary, context, patch size and sequence length for vision models); the weights' bytes "
        "at each dtype; for causal LMs the KV-cache bytes per token and for `context_length` x `batch_size`."
    ),
    request=anatomy.InspectRequest,
    result=anatomy.ModelAnatomy,
    annotations=PURE,
)
COUNT = ToolSpec(
    name="count_parameters",
    title="Count a transformer's parameters from its sizes",
    description=(
        "Parameters of an encoder and/or decoder transformer from its sizes and conventions, nothing "
        "loaded: token or patch embeddings, learned or sinusoidal positions, attention with or without "
        "biases (grouped-query with kv_heads), feed-forward, norms per layer, pooler and heads, tied "
        "embeddings. Returns the same breakdown as inspect_model, every term with its formula, the "
        "weights' bytes at each dtype and, for decoders, the KV cache at float16."
    ),
    request=anatomy.CountRequest,
    result=anatomy.AnalyticCount,
    annotations=PURE,
)
ATTENTION = ToolSpec(
    name="attention_map",
    title="Attention maps and mean attention distance (ViT, CLIP vision)",
    description=(
        "For a ViT-style image classifier or, with task zero-shot-image-classification, a CLIP-style "
        "model's vision tower: the [CLS] token's attention over the patches for a layer and head (or "
        "averaged over heads), attention rollout up to that layer, and the mean attention distance per "
        "layer and head in pixels, with its definition; at most {anatomy.max_images} images, one forward "
        "pass each. Default model {models.classifier_about}. Returns the numbers, a heatmap PNG per image "
        "(preview + resource links) and timing; progress per image."
    ),
    request=anatomy.AttentionMapRequest,
    result=anatomy.AttentionMapResult,
    annotations=WRITES_NEW,
    content=attention_content,
)


def register(tools: ToolPublisher, state: ServerState) -> None:
    s = state.settings
    limits = build_limits(anatomy.AnatomyLimits, s)
    open_world = s.allow_downloads or s.allow_url_fetch

    def inspect_model(request: anatomy.InspectRequest) -> anatomy.ModelAnatomy:
        return anatomy.inspect_model(request, adapters=state.adapters, models=state.models)

    def attention_map(request: anatomy.AttentionMapRequest, progress: Progress) -> anatomy.AttentionMapResult:
        maps = anatomy.attention_maps(
            request, progress, policy=state.images, limits=limits, models=state.models
        )
        stored = [store_image(state.outputs, picture, "attention") for picture in maps.heatmaps]
        preview = preview_of(maps.heatmaps, columns=1, max_bytes=s.preview_max_bytes)
        return anatomy.AttentionMapResult(**maps.info.model_dump(), heatmaps=stored, preview=preview)

    tools.add(INSPECT.opening(s.allow_downloads), inspect_model)
    tools.add(COUNT, anatomy.count_parameters)
    tools.add_long(ATTENTION.opening(open_world), attention_map)
