"""inspect_model: a loaded model's parameters by component and layer, its key sizes, its memory.

Counts come from the instantiated modules (named_parameters), so they are the model's real total:
a weight tied under two names is one torch Parameter and is counted once (`tied` lists the other
names). The model comes from the one model cache, by task, like every other tool's. With an
adapter, the count is of the base with the LoRA matrices attached but not merged (see
`_with_adapter`), so their share shows.

torch and peft are imported inside the functions.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from typing import Any

from genai_mcp.tools.anatomy.schemas import (
    COMPONENTS,
    GROUPING,
    AdapterShare,
    Component,
    ComponentCount,
    InspectRequest,
    KVCache,
    LayerCount,
    ModelAnatomy,
    ModelFigures,
    ParameterBreakdown,
    StoredDtype,
    TiedWeight,
    WeightMemory,
)
from genai_mcp.tools.errors import InvalidInputError
from genai_mcp.tools.models import ModelBundle, ModelCache, SavedAdapters, default_cache
from genai_mcp.tools.models.adapted import peft_warnings_silenced
from genai_mcp.tools.models.heads import keeps_head, set_head

__all__ = ["breakdown_of", "count_modules", "figures_of", "inspect_model", "kv_cache", "weight_memory"]

_STORED: dict[StoredDtype, float] = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1, "int4": 0.5}
_KV_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
_LAYER = re.compile(r"(?:^|\.)(?:layer|layers|h|blocks|block|resblocks)\.\d+\.")
_NORM = re.compile(r"(Layer|RMS|Group|Batch|Instance)Norm")
_ATTENTION = {"attention", "attn", "self_attn", "attentions", "crossattention", "cross_attn", "encoder_attn"}
_FEED_FORWARD = {"mlp", "intermediate", "ffn", "feed_forward", "fc1", "fc2", "ff"}
_HEAD = {
    "pooler", "classifier", "lm_head", "head", "score", "cls", "qa_outputs",
    "visual_projection", "text_projection", "logit_scale", "logit_bias",
}  # fmt: skip
_SPECIAL_TOKENS = {"cls_token", "mask_token", "distillation_token", "class_embedding", "wte"}
_ADAPTED_TASKS = {"text-generation": "causal-lm", "image-classification": "image-classification"}


def inspect_model(
    request: InspectRequest, *, adapters: SavedAdapters | None = None, models: ModelCache | None = None
) -> ModelAnatomy:
    """The anatomy of `request.model` loaded for `request.task`. InvalidInputError for an unknown
    adapter or one of another task or base; ModelUnavailableError when the model cannot be loaded."""
    cache = models if models is not None else default_cache()
    notes: list[str] = []
    share: AdapterShare | None = None
    if request.adapter is None:
        bundle = cache.get(request.task, request.model)
        net = bundle.model
    else:
        bundle, net, share = _with_adapter(request, adapters, cache)
    breakdown, trainable, tied = count_modules(net)
    if share is not None:
        share = share.model_copy(update={"share": _ratio(share.lora_parameters, breakdown.total)})
    config = getattr(net, "config", None)
    figures = figures_of(config) if config is not None else []
    kv = None
    if request.task == "text-generation" and figures:
        kv = kv_cache(figures[0], bundle.dtype, request.context_length, request.batch_size)
        if kv is not None and figures[0].context_length and kv.context_length > figures[0].context_length:
            notes.append(
                f"context_length {kv.context_length} is beyond the model's {figures[0].context_length} positions"
            )
    return ModelAnatomy(
        model=bundle.model_id if share is None else f"{bundle.model_id}+adapter:{share.adapter}",
        task=request.task,
        architecture=type(bundle.model).__name__,
        dtype=bundle.dtype,
        breakdown=breakdown,
        trainable=trainable,
        frozen=breakdown.total - trainable,
        tied=tied,
        adapter=share,
        figures=figures,
        loaded_bytes=bundle.nbytes,
        kv_cache=kv,
        grouping=GROUPING,
        notes=notes,
    )


def count_modules(module: Any) -> tuple[ParameterBreakdown, int, list[TiedWeight]]:
    """(breakdown, trainable parameters, tied names) of a torch module, from its named_parameters."""
    owners = dict(module.named_modules(remove_duplicate=False))
    first: dict[int, str] = {}
    tied: list[TiedWeight] = []
    named: list[tuple[str, Component, int]] = []
    trainable = 0
    for name, param in module.named_parameters(remove_duplicate=False):
        if id(param) in first:
            tied.append(TiedWeight(name=name, same_as=first[id(param)]))
            continue
        first[id(param)] = name
        owner = owners.get(name.rpartition(".")[0])
        named.append((name, component_of(name, owner), param.numel()))
        trainable += param.numel() if param.requires_grad else 0
    breakdown = breakdown_of(named)
    # torch's own de-duplicated count: the components must add up to it, or the grouping has a bug.
    real = sum(p.numel() for p in module.parameters())
    assert breakdown.total == real, (breakdown.total, real)
    return breakdown, trainable, tied


def component_of(name: str, owner: Any) -> Component:
    """The component of parameter `name` whose module is `owner` (GROUPING, in its order)."""
    parts = name.split(".")
    if any(p.startswith("lora_") for p in parts):
        return "lora"
    if owner is not None and _NORM.search(type(owner).__name__):
        return "normalisation"
    if any("position" in p or p in ("wpe", "pos_embed") or p.startswith("relative_attention") for p in parts):
        return "positional"
    if any(p in _ATTENTION for p in parts):
        return "attention"
    layer = _LAYER.search(name)
    # A layer's own "output" (BERT's FFN out-projection; the attention's is caught above).
    inside = name[layer.end() :].split(".") if layer else []
    if any(p in _FEED_FORWARD for p in parts) or "output" in inside:
        return "feed_forward"
    embedding = owner is not None and type(owner).__name__ == "Embedding"
    if embedding or any("embed" in p or p in _SPECIAL_TOKENS for p in parts):
        return "embeddings"
    if any(p in _HEAD for p in parts):
        return "head"
    return "other"


def breakdown_of(named: list[tuple[str, Component, int]]) -> ParameterBreakdown:
    """The breakdown of (parameter name, component, count) triples, layers found from the names."""
    totals = dict.fromkeys(COMPONENTS, 0)
    layers: dict[str, dict[str, int]] = {}
    outside = 0
    for name, component, n in named:
        totals[component] += n
        layer = _LAYER.search(name)
        if layer is None:
            outside += n
            continue
        parts = layers.setdefault(name[: layer.end() - 1].lstrip("."), {})
        parts[component] = parts.get(component, 0) + n
    total = sum(totals.values())
    return ParameterBreakdown(
        total=total,
        components=[
            ComponentCount(component=c, parameters=n, share=_ratio(n, total)) for c, n in totals.items()
        ],
        layers=[LayerCount(layer=k, parameters=sum(v.values()), components=v) for k, v in layers.items()],
        outside_layers=outside,
        weight_memory=weight_memory(total),
    )


def weight_memory(parameters: int) -> list[WeightMemory]:
    """Bytes of `parameters` weights stored at each dtype (int4: two a byte, rounded up)."""
    return [WeightMemory(dtype=d, bytes=math.ceil(parameters * b)) for d, b in _STORED.items()]


def kv_cache(figures: ModelFigures, dtype: str, context: int | None, batch: int) -> KVCache | None:
    """The KV cache of a decoder with `figures`; None when its sizes are not known."""
    layers, kv_heads, head_dim = figures.layers, figures.kv_heads, figures.head_dim
    context = context or figures.context_length
    if not (layers and kv_heads and head_dim and context):
        return None
    size = _KV_BYTES[dtype]
    per_token = 2 * layers * kv_heads * head_dim * size
    return KVCache(
        layers=layers,
        kv_heads=kv_heads,
        head_dim=head_dim,
        dtype=dtype,
        bytes_per_token=per_token,
        context_length=context,
        batch_size=batch,
        bytes=per_token * context * batch,
        formula=(
            f"2 x {layers} layers x {kv_heads} heads x {head_dim} x {size} B = {per_token:,} B per token; "
            f"x {context:,} tokens x {batch} sequences"
        ),
    )


def figures_of(config: Any) -> list[ModelFigures]:
    """Key sizes of a transformers (or diffusers) config; a dual encoder's two towers apart."""
    towers = [(p, _get(config, f"{p}_config")) for p in ("text", "vision")]
    found = [(p, c) for p, c in towers if c is not None]
    return [_figures(p, c) for p, c in found] if found else [_figures("model", config)]


def _figures(part: str, config: Any) -> ModelFigures:
    d = _int(config, "hidden_size", "n_embd", "d_model", "dim")
    heads = _int(config, "num_attention_heads", "n_head", "encoder_attention_heads")
    kv = _int(config, "num_key_value_heads") or heads
    image, patch = _int(config, "image_size"), _int(config, "patch_size")
    channels = _int(config, "num_channels", "in_channels")
    patches = (image // patch) ** 2 if image and patch else None
    model_type = _get(config, "model_type")
    special = 2 if str(model_type).startswith("deit") else 1
    return ModelFigures(
        part=part,
        model_type=None if model_type is None else str(model_type),
        layers=_int(config, "num_hidden_layers", "n_layer", "num_layers"),
        heads=heads,
        kv_heads=kv,
        d_model=d,
        d_ff=_int(config, "intermediate_size", "n_inner", "d_ff", "ffn_dim")
        or (4 * d if d and heads else None),
        head_dim=_int(config, "head_dim") or (d // heads if d and heads else None),
        vocab_size=_int(config, "vocab_size"),
        context_length=_int(config, "max_position_embeddings", "n_positions"),
        image_size=image,
        patch_size=patch,
        channels=channels,
        patches=patches,
        sequence_length=None if patches is None else patches + special,
    )


def _with_adapter(
    request: InspectRequest, adapters: SavedAdapters | None, cache: ModelCache
) -> tuple[ModelBundle, Any, AdapterShare]:
    """The adapter's base bundle, and the base model with `request.adapter` attached, unmerged, on a private copy.

    The cache holds adapted models merged (tools.models.adapted): their LoRA matrices are folded
    into the base weights and can no longer be counted. Counting needs them apart, so peft wraps a
    copy of the cached base here (trainable, as in fine-tuning) and nothing of it is kept.
    """
    from peft import PeftModel

    assert request.adapter is not None
    if adapters is None:
        raise InvalidInputError(f"adapter {request.adapter!r}: no adapters folder is configured here")
    info = adapters.info(request.adapter)
    if _ADAPTED_TASKS.get(request.task) != info.task:
        raise InvalidInputError(f"adapter {info.name!r} was trained for {info.task}, not for {request.task}")
    base = cache.get(request.task, info.base_model)
    if request.model is not None and cache.resolve(request.task, request.model).model_id != base.model_id:
        raise InvalidInputError(
            f"adapter {info.name!r} was trained on {info.base_model}; leave the model null or pass that one"
        )
    model = copy.deepcopy(base.model)
    if info.labels is not None and not keeps_head(model, info.labels):
        set_head(model, info.labels, base.model_id)
    with peft_warnings_silenced():
        wrapped = PeftModel.from_pretrained(model, str(adapters.path(info.name)), is_trainable=True)
    config: Any = wrapped.peft_config["default"]  # a LoraConfig, typed as its base class
    lora = sum(p.numel() for n, p in wrapped.named_parameters() if ".lora_" in n)
    share = AdapterShare(
        adapter=info.name,
        base_model=base.model_id,
        rank=int(config.r),
        target_modules=sorted(config.target_modules or []),
        lora_parameters=lora,
        share=0.0,  # the caller divides by the counted total
    )
    return base, wrapped, share


def _get(config: Any, name: str) -> Any:
    return config.get(name) if isinstance(config, Mapping) else getattr(config, name, None)


def _int(config: Any, *names: str) -> int | None:
    for name in names:
        value = _get(config, name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
