"""Requests and results of the anatomy tools (pydantic; import-light: no torch).

One breakdown (ParameterBreakdown) serves both ways of counting: from a loaded model's modules
(inspect_model) and from sizes alone (count_parameters, analytic.py); the components mean the
same in both (GROUPING).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from genai_mcp.tools.diffusion.schemas import PreviewInfo, StoredImage
from genai_mcp.tools.limits import limit
from genai_mcp.tools.models.adapted import AdapterRef
from genai_mcp.tools.models.resolve import Task
from genai_mcp.tools.vision.schemas import IMAGE_DOC, ImageSpec, ModelId

__all__ = [
    "COMPONENTS",
    "DISTANCE_DEFINITION",
    "GROUPING",
    "MAX_BATCH_SIZE",
    "MAX_CONTEXT",
    "ROLLOUT_DEFINITION",
    "AdapterShare",
    "AnatomyLimits",
    "AttentionMapInfo",
    "AttentionMapRequest",
    "AttentionMapResult",
    "Component",
    "ComponentCount",
    "ImageAttention",
    "InspectRequest",
    "KVCache",
    "LayerCount",
    "ModelAnatomy",
    "ModelFigures",
    "ParameterBreakdown",
    "StoredDtype",
    "TiedWeight",
    "WeightMemory",
]

MAX_CONTEXT = 10_000_000
MAX_BATCH_SIZE = 65_536

Component = Literal[
    "embeddings", "positional", "attention", "feed_forward", "normalisation", "head", "lora", "other"
]
COMPONENTS: tuple[Component, ...] = (
    "embeddings",
    "positional",
    "attention",
    "feed_forward",
    "normalisation",
    "head",
    "lora",
    "other",
)
GROUPING = (
    "Each parameter belongs to the first component that matches its name and module, in this order: "
    "lora (lora_A / lora_B matrices of a LoRA adapter); normalisation (the weights and biases of a "
    "LayerNorm, RMSNorm, GroupNorm or BatchNorm); positional (learned position tables: position_embedding(s), "
    "wpe, relative attention biases); attention (everything under an attention block: query, key, value "
    "and output projections with their biases); feed_forward (the MLP of a layer: mlp, intermediate, "
    "a layer's output dense, fc1/fc2); embeddings (token, token-type and patch embeddings, the [CLS] "
    "token); head (pooler, classifier, lm_head, CLIP's projections and logit_scale); other (the rest, "
    "e.g. a UNet's convolutions). A layer is a numbered block (layer.N, layers.N, h.N, blocks.N). A "
    "weight shared under two names (tied embeddings) is one parameter, counted once, under its first name."
)
ROLLOUT_DEFINITION = (
    "Attention rollout (Abnar & Zuidema, 2020): per layer the attention averaged over heads, A, mixed "
    "with the residual path as 0.5 A + 0.5 I and renormalised per row; the product of these from the "
    "first layer up to the chosen one; its [CLS] row over the patches."
)
DISTANCE_DEFINITION = (
    "Mean attention distance (Dosovitskiy et al., 2021): for each query patch, the attention-weighted "
    "mean of the Euclidean pixel distances from its patch centre to every key patch's centre (special "
    "tokens such as [CLS] left out as queries and as keys, the remaining weights renormalised to sum "
    "to 1), averaged over the query patches and the images; per layer and head, in pixels of the "
    "model's input. 0 is attending to itself only; uniform_distance is what uniform attention gives."
)


@dataclass(frozen=True)
class AnatomyLimits:
    """What one attention_map call may ask for; a refusal carries the key of the limit it hit."""

    max_images: int = limit("anatomy.max_images", 8)  # one forward pass with attentions each


# ---- the breakdown both tools give


class ComponentCount(BaseModel):
    component: Component
    parameters: int
    share: float = Field(description="parameters / total, 0-1.")


class LayerCount(BaseModel):
    layer: str = Field(
        description="The layer's module path (encoder.layer.0); analytically encoder.layers.N / decoder.layers.N."
    )
    parameters: int
    components: dict[str, int] = Field(description="Its parameters by component (non-zero ones).")


StoredDtype = Literal["float32", "float16", "bfloat16", "int8", "int4"]


class WeightMemory(BaseModel):
    dtype: StoredDtype
    bytes: int = Field(description="Parameters x bytes per value (int4: half a byte); no buffers, no scales.")


class ParameterBreakdown(BaseModel):
    total: int = Field(description="Parameters, each shared weight once; the components add up to it.")
    components: list[ComponentCount]
    layers: list[LayerCount] = Field(
        description="Per layer, in order; parameters outside layers are not listed."
    )
    outside_layers: int = Field(description="Parameters not in any layer (embeddings, final norms, heads).")
    weight_memory: list[WeightMemory]


class KVCache(BaseModel):
    layers: int
    kv_heads: int = Field(
        description="Key/value heads (fewer than the query heads with grouped-query attention)."
    )
    head_dim: int
    dtype: str
    bytes_per_token: int = Field(description="2 (K and V) x layers x kv_heads x head_dim x bytes per value.")
    context_length: int
    batch_size: int
    bytes: int = Field(description="bytes_per_token x context_length x batch_size.")
    formula: str


# ---- inspect_model


class InspectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: Task = Field(
        "text-generation",
        description="What the model is loaded as (the same as the other tools): its default model is the task's.",
    )
    model: ModelId = None
    adapter: AdapterRef = None
    context_length: int | None = Field(
        None,
        ge=1,
        le=MAX_CONTEXT,
        description="KV-cache tokens per sequence (causal LMs); null: the model's context.",
    )
    batch_size: int = Field(1, ge=1, le=MAX_BATCH_SIZE, description="Sequences in the KV-cache figure.")


class ModelFigures(BaseModel):
    part: str = Field(description="model, or text / vision for a dual encoder's towers.")
    model_type: str | None
    layers: int | None
    heads: int | None
    kv_heads: int | None
    d_model: int | None
    d_ff: int | None
    head_dim: int | None
    vocab_size: int | None
    context_length: int | None = Field(description="Learned positions (max_position_embeddings).")
    image_size: int | None
    patch_size: int | None
    channels: int | None
    patches: int | None = Field(description="N = H W / P^2 at the configured image size.")
    sequence_length: int | None = Field(description="N plus the special tokens ([CLS]; DeiT adds one more).")


class TiedWeight(BaseModel):
    name: str
    same_as: str = Field(description="The name it is counted under.")


class AdapterShare(BaseModel):
    adapter: str
    base_model: str
    rank: int
    target_modules: list[str]
    lora_parameters: int
    share: float = Field(description="lora_parameters / total parameters of the adapted model, 0-1.")


class ModelAnatomy(BaseModel):
    model: str
    task: str
    architecture: str
    dtype: str
    breakdown: ParameterBreakdown
    trainable: int = Field(
        description="Parameters with requires_grad: all of a checkpoint; with an adapter, LoRA's."
    )
    frozen: int
    tied: list[TiedWeight]
    adapter: AdapterShare | None
    figures: list[ModelFigures]
    loaded_bytes: int = Field(
        description="Parameters and buffers as loaded here (the model cache counts these)."
    )
    kv_cache: KVCache | None = Field(description="For causal LMs, at the loaded dtype; null otherwise.")
    grouping: str = Field(description="How parameters are assigned to components.")
    notes: list[str]


# ---- attention_map


class AttentionMapRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image: Annotated[
        ImageSpec | list[ImageSpec],
        Field(description=f"One image or a small set (at most {{anatomy.max_images}}). Each: {IMAGE_DOC}."),
    ]
    task: Literal["image-classification", "zero-shot-image-classification"] = Field(
        "image-classification",
        description="image-classification: a ViT-style classifier; zero-shot-image-classification: CLIP's vision tower.",
    )
    model: ModelId = None
    layer: int = Field(
        -1, ge=-1000, le=999, description="Layer of the [CLS] map, from 0; negative from the end (-1: last)."
    )
    head: int | None = Field(
        None, ge=0, le=999, description="Head of the [CLS] map, from 0; null: averaged over heads."
    )


class ImageAttention(BaseModel):
    cls_attention: list[list[float]] = Field(description="[CLS] attention on each patch, rows x columns.")
    rollout: list[list[float]] = Field(description="Rollout's [CLS] row on each patch, rows x columns.")
    mean_distance: float = Field(
        description="This image's mean attention distance over layers and heads, pixels."
    )


class AttentionMapInfo(BaseModel):
    model: str
    device: str
    input_height: int = Field(description="Pixels of the model's input after preprocessing.")
    input_width: int
    patch_size: int
    grid_rows: int
    grid_columns: int
    special_tokens: int = Field(description="Tokens before the patches ([CLS], ...).")
    layers: int
    heads: int
    layer: int = Field(description="The layer of cls_attention and where rollout stops, from 0.")
    head: int | None = Field(description="The head of cls_attention; null: averaged over heads.")
    images: list[ImageAttention]
    mean_attention_distance: list[list[float]] = Field(
        description="Pixels, layers x heads, averaged over the images."
    )
    mean_distance_per_layer: list[float] = Field(description="Pixels, averaged over heads too.")
    max_distance: float = Field(
        description="The farthest two patch centres, pixels: the most any distance can be."
    )
    uniform_distance: float = Field(
        description="Mean distance between patch centres: uniform attention's value."
    )
    distance_definition: str = DISTANCE_DEFINITION
    rollout_definition: str = ROLLOUT_DEFINITION
    heatmap_layout: str = Field(description="What each heatmap PNG shows.")
    seconds: float


class AttentionMapResult(AttentionMapInfo):
    heatmaps: list[StoredImage] = Field(description="One PNG per image, full size (resources/read).")
    preview: PreviewInfo
