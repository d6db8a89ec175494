"""zero_shot_classify: a probability for every candidate label with a CLIP- or SigLIP-style model.

CLIP: softmax over the labels of logit_scale.exp() * cos(image, text), a label's text embedding the
mean of its normalised prompt embeddings over all templates (prompt ensembling), normalised again.
SigLIP (a model with a learnt logit_bias): each label scored on its own, sigmoid(logit_scale.exp() *
cos + logit_bias), with prompts padded to the text tower's full length as it was trained. Only the
image encoder's pass is shared with concurrent callers (tools/vision/forward.py); the labels' text
features are each call's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genai_mcp.tools.errors import LimitExceededError, ModelUnavailableError
from genai_mcp.tools.images import ImagePolicy
from genai_mcp.tools.models import ModelCache, load_model
from genai_mcp.tools.models.batching import ForwardBatcher
from genai_mcp.tools.vision.forward import Clock, coming, decode_all, pixels_of, shared_forward
from genai_mcp.tools.vision.schemas import (
    MAX_PROMPTS,
    LabelProbability,
    VisionLimits,
    ZeroShotImage,
    ZeroShotRequest,
    ZeroShotResult,
)

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["score_labels", "zero_shot_classify"]


def zero_shot_classify(
    request: ZeroShotRequest,
    *,
    policy: ImagePolicy | None = None,
    limits: VisionLimits | None = None,
    models: ModelCache | None = None,
    batcher: ForwardBatcher | None = None,
) -> ZeroShotResult:
    """A probability for every label for each image (see the module docstring for the formula); the
    image encoder's pass shared with concurrent calls through `batcher` (None: alone)."""
    group = ("image_features", request.model)
    with coming(batcher, group):
        clock = Clock()
        images = decode_all(request.image, policy or ImagePolicy(), (limits or VisionLimits()).max_batch)
        clock.lap("decode_ms")
        return score_labels(
            images, request.labels, request.templates, request.model, clock, models, batcher, group
        )


def score_labels(
    images: list[Image],
    labels: list[str],
    templates: list[str],
    model: str | None,
    clock: Clock,
    models: ModelCache | None,
    batcher: ForwardBatcher | None = None,
    group: tuple[str, str | None] | None = None,
) -> ZeroShotResult:
    import torch

    n_prompts = len(labels) * len(templates)
    if n_prompts > MAX_PROMPTS:
        raise LimitExceededError("labels x templates (prompts to encode)", n_prompts, MAX_PROMPTS)
    bundle = load_model("zero-shot-image-classification", model, models=models)
    clock.lap("load_ms")
    net = bundle.model
    processor: Any = bundle.processor
    scale = getattr(net, "logit_scale", None)
    if not isinstance(scale, torch.Tensor):
        raise ModelUnavailableError(
            f"{bundle.model_id} has no logit_scale, so it is not a CLIP- or SigLIP-style model"
        )
    # A learnt logit_bias marks SigLIP's pairwise sigmoid loss: each label is scored on its own.
    bias = getattr(net, "logit_bias", None)
    bias = bias if isinstance(bias, torch.Tensor) else None
    sigmoid = bias is not None
    prompts = [t.replace("{}", label.strip()) for t in templates for label in labels]  # template-major
    with torch.inference_mode():
        tokenizer = processor.tokenizer
        limit = _max_text_tokens(net.config, tokenizer)
        # SigLIP's text tower pools the last position and was trained on text padded to its full
        # length: padded to the longest prompt, each embedding would depend on its batch-mates.
        padding = "max_length" if sigmoid else True
        tokens = tokenizer(prompts, padding=padding, truncation=True, max_length=limit, return_tensors="pt")
        text_inputs = {
            k: v.to(bundle.device) for k, v in tokens.items() if k in ("input_ids", "attention_mask")
        }
        pixels = pixels_of(bundle, processor.image_processor, images, pixels_only=True)
        clock.lap("preprocess_ms")
        text = _unit(_features(net.get_text_features(**text_inputs)).float())  # (T*L, D)
        text = _unit(text.view(len(templates), len(labels), -1).mean(0))  # (L, D)
        encoded = shared_forward(
            batcher,
            "image_features",
            net,
            pixels,
            lambda x: _features(net.get_image_features(pixel_values=x)),
            group,
        )
        image = _unit(encoded.float())  # (B, D)
        logits = scale.float().exp() * image @ text.T  # (B, L)
        probs = logits.softmax(-1) if bias is None else (logits + bias.float()).sigmoid()
        clock.lap("forward_ms")
    results = []
    for row in probs.tolist():
        best = max(range(len(labels)), key=row.__getitem__)
        results.append(
            ZeroShotImage(
                scores=[
                    LabelProbability(label=label, probability=p) for label, p in zip(labels, row, strict=True)
                ],
                best_label=labels[best],
                best_probability=row[best],
            )
        )
    return ZeroShotResult(
        model=bundle.model_id,
        device=bundle.device,
        normalization="sigmoid" if sigmoid else "softmax",
        templates=list(templates),
        results=results,
        timing=clock.timing(),
    )


def _max_text_tokens(config: Any, tokenizer: Any) -> int:
    # Prompts longer than the text encoder's positions are cut there rather than failing.
    positions = int(getattr(getattr(config, "text_config", None), "max_position_embeddings", 0) or 0)
    tokenizer_max = int(min(getattr(tokenizer, "model_max_length", 0) or 0, 1_000_000))
    limits = [n for n in (positions, tokenizer_max) if n > 0]
    return min(limits) if limits else 77


def _features(output: Any) -> Any:
    import torch

    # transformers 5 returns a model output whose pooler_output holds the projected embedding.
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def _unit(x: Any) -> Any:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)
