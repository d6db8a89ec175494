"""classify_images and analyse_image: decode the images, get the model from the cache, one forward pass.

With a `batcher` (tools/models/batching.py), concurrent calls on the same model share the forward
pass (tools/vision/forward.py); each call applies its own softmax / top-k to its own rows.
zero_shot_classify lives in tools/vision/zero_shot.py.

torch is imported inside the functions; PIL arrives through genai_mcp.tools.images.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from genai_mcp.tools.errors import InvalidInputError
from genai_mcp.tools.images import ImagePolicy
from genai_mcp.tools.models import ModelBundle, ModelCache, load_model
from genai_mcp.tools.models.batching import ForwardBatcher
from genai_mcp.tools.vision.forward import Clock, coming, decode_all, pixels_of, shared_forward
from genai_mcp.tools.vision.schemas import (
    MAX_LABELS,
    ClassifyRequest,
    ClassifyResult,
    DescribeRequest,
    ImageAnalysis,
    ImageLabels,
    LabelProbability,
    VisionLimits,
)
from genai_mcp.tools.vision.zero_shot import score_labels, zero_shot_classify

if TYPE_CHECKING:
    from PIL.Image import Image

    from genai_mcp.tools.models.adapted import SavedAdapters

__all__ = ["analyse_image", "classify_images", "description_prompt", "zero_shot_classify"]


def classify_images(
    request: ClassifyRequest,
    *,
    policy: ImagePolicy | None = None,
    limits: VisionLimits | None = None,
    adapters: SavedAdapters | None = None,
    models: ModelCache | None = None,
    batcher: ForwardBatcher | None = None,
) -> ClassifyResult:
    """The top_k labels of each image, with the model from `models` (None: default_cache()); the
    forward pass shared with concurrent calls through `batcher` (None: alone). Raises
    InvalidInputError / LimitExceededError for bad images or too many of them, ModelUnavailableError
    for a model that is not an image classifier here."""
    group = ("logits", request.model if request.adapter is None else f"{request.model}+{request.adapter}")
    with coming(batcher, group):
        clock = Clock()
        images = decode_all(request.image, policy or ImagePolicy(), (limits or VisionLimits()).max_batch)
        clock.lap("decode_ms")
        bundle = _classifier(request.model, request.adapter, adapters, models=models)
        return _classify(images, bundle, request.top_k, clock, batcher, group)


def analyse_image(
    request: DescribeRequest, *, policy: ImagePolicy | None = None, models: ModelCache | None = None
) -> ImageAnalysis:
    """Classifier top_k and zero-shot scores for one image (decoded once). Without `labels`, the
    zero-shot candidates are the classifier's label names (at most MAX_LABELS)."""
    clock = Clock()
    images = decode_all(request.image, policy or ImagePolicy(), 1)
    clock.lap("decode_ms")
    classifier = _classifier(request.classifier_model, models=models)
    classification = _classify(images, classifier, request.top_k, clock)
    labels = request.labels
    if labels is None:
        names = _label_names(classifier)
        labels = list(dict.fromkeys(names))[:MAX_LABELS]
    # The image was decoded once, above: the zero-shot timing starts after that.
    zero_shot = score_labels(images, labels, request.templates, request.zero_shot_model, Clock(), models)
    return ImageAnalysis(classification=classification, zero_shot=zero_shot)


def description_prompt(analysis: ImageAnalysis) -> tuple[str, str]:
    """(system prompt, user message) asking an LLM for one sentence grounded in `analysis` only."""
    top = analysis.classification.results[0].labels
    zs = analysis.zero_shot.results[0]
    ranked = sorted(zs.scores, key=lambda s: s.probability, reverse=True)[:5]
    system = (
        "You describe images you cannot see, using only the classifier outputs you are given. "
        "Answer with exactly one sentence and no preamble."
    )
    templates = ", ".join(repr(t) for t in analysis.zero_shot.templates)
    user = (
        "Two models analysed one image.\n"
        f"Image classifier {analysis.classification.model}, top labels: {_percentages(top)}.\n"
        f"Zero-shot model {analysis.zero_shot.model} (prompts: {templates}), "
        f"most probable labels: {_percentages(ranked)}.\n"
        "In one sentence, say what the image most likely shows, grounded only in these results; "
        "say so if the models disagree or are unsure."
    )
    return system, user


# ---- the work


def _classifier(
    model: str | None,
    adapter: str | None = None,
    adapters: SavedAdapters | None = None,
    *,
    models: ModelCache | None,
) -> ModelBundle:
    if adapter is None:
        return load_model("image-classification", model, models=models)
    if adapters is None:
        raise InvalidInputError(f"adapter {adapter!r}: no adapters folder is configured here")
    from genai_mcp.tools.models.adapted import load_adapted

    return load_adapted("image-classification", adapter, adapters, model, models=models)


def _classify(
    images: list[Image],
    bundle: ModelBundle,
    top_k: int,
    clock: Clock,
    batcher: ForwardBatcher | None = None,
    group: tuple[str, str | None] | None = None,
) -> ClassifyResult:
    import torch

    clock.lap("load_ms")  # the caller loaded `bundle` since the last lap
    names = _label_names(bundle)
    net = bundle.model
    with torch.inference_mode():
        pixels = pixels_of(bundle, bundle.processor, images)
        clock.lap("preprocess_ms")
        logits = shared_forward(
            batcher, "logits", net, pixels, lambda x: net(pixel_values=x).logits, group
        )  # (B, C)
        probs = logits.float().softmax(-1)
        values, indices = probs.topk(min(top_k, probs.shape[-1]), dim=-1)  # (B, k)
        clock.lap("forward_ms")
    results = [
        ImageLabels(
            labels=[
                LabelProbability(label=names[i], probability=p) for p, i in zip(row_p, row_i, strict=True)
            ]
        )
        for row_p, row_i in zip(values.tolist(), indices.tolist(), strict=True)
    ]
    return ClassifyResult(model=bundle.model_id, device=bundle.device, results=results, timing=clock.timing())


def _label_names(bundle: ModelBundle) -> list[str]:
    id2label = getattr(bundle.model.config, "id2label", None) or {}
    n = int(getattr(bundle.model.config, "num_labels", len(id2label)))
    return [str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(n)]


def _percentages(scores: list[LabelProbability]) -> str:
    return ", ".join(f"{s.label!r} {s.probability:.0%}" for s in scores)
