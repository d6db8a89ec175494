"""The work behind the vision tools: decode the images, get the model from the cache, one forward pass.

With a `batcher` (tools/models/batching.py), concurrent calls on the same model share the forward
pass: each call decodes and preprocesses its own images (its errors stay its own), only the model's
forward runs on the stacked pixels, and each call applies its own softmax / top-k (or its own
labels' text features) to its own rows. A call's `forward_ms` is the time it spent in the forward
step: the wait for the batch to form (at most the window) plus the shared pass it took part in.

torch is imported inside the functions; PIL arrives through genai_mcp.tools.images.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from genai_mcp.tools.errors import InvalidInputError, LimitExceededError, ModelUnavailableError
from genai_mcp.tools.images import ImagePolicy, load_images
from genai_mcp.tools.models import ModelBundle, ModelCache, load_model
from genai_mcp.tools.models.batching import ForwardBatcher
from genai_mcp.tools.vision.schemas import (
    MAX_LABELS,
    MAX_PROMPTS,
    ClassifyRequest,
    ClassifyResult,
    DescribeRequest,
    ImageAnalysis,
    ImageLabels,
    LabelProbability,
    Timing,
    VisionLimits,
    ZeroShotImage,
    ZeroShotRequest,
    ZeroShotResult,
)

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
    clock = _Clock()
    images = _decode_all(request.image, policy or ImagePolicy(), (limits or VisionLimits()).max_batch)
    clock.lap("decode_ms")
    bundle = _classifier(request.model, request.adapter, adapters, models=models)
    return _classify(images, bundle, request.top_k, clock, batcher)


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
    clock = _Clock()
    images = _decode_all(request.image, policy or ImagePolicy(), (limits or VisionLimits()).max_batch)
    clock.lap("decode_ms")
    return _zero_shot(images, request.labels, request.templates, request.model, clock, models, batcher)


def analyse_image(
    request: DescribeRequest, *, policy: ImagePolicy | None = None, models: ModelCache | None = None
) -> ImageAnalysis:
    """Classifier top_k and zero-shot scores for one image (decoded once). Without `labels`, the
    zero-shot candidates are the classifier's label names (at most MAX_LABELS)."""
    clock = _Clock()
    images = _decode_all(request.image, policy or ImagePolicy(), 1)
    clock.lap("decode_ms")
    classifier = _classifier(request.classifier_model, models=models)
    classification = _classify(images, classifier, request.top_k, clock)
    labels = request.labels
    if labels is None:
        names = _label_names(classifier)
        labels = list(dict.fromkeys(names))[:MAX_LABELS]
    # The image was decoded once, above: the zero-shot timing starts after that.
    zero_shot = _zero_shot(images, labels, request.templates, request.zero_shot_model, _Clock(), models)
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


class _Clock:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.last = self.started
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + (now - self.last) * 1000
        self.last = now

    def timing(self) -> Timing:
        total = (time.perf_counter() - self.started) * 1000
        return Timing(
            load_ms=round(self.laps.get("load_ms", 0.0), 3),
            decode_ms=round(self.laps.get("decode_ms", 0.0), 3),
            preprocess_ms=round(self.laps.get("preprocess_ms", 0.0), 3),
            forward_ms=round(self.laps.get("forward_ms", 0.0), 3),
            total_ms=round(total, 3),
        )


def _decode_all(image: str | list[str], policy: ImagePolicy, max_batch: int) -> list[Image]:
    specs = [image] if isinstance(image, str) else list(image)
    if not specs:
        raise InvalidInputError("no image given: pass one image or a non-empty list")
    if len(specs) > max_batch:
        raise LimitExceededError(
            "the number of images in one call", len(specs), max_batch, "vision.max_batch"
        )
    return load_images(specs, policy)


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
    images: list[Image], bundle: ModelBundle, top_k: int, clock: _Clock, batcher: ForwardBatcher | None = None
) -> ClassifyResult:
    import torch

    clock.lap("load_ms")  # the caller loaded `bundle` since the last lap
    names = _label_names(bundle)
    net = bundle.model
    with torch.inference_mode():
        pixels = _pixels(bundle, bundle.processor, images)
        clock.lap("preprocess_ms")
        logits = _shared(batcher, "logits", net, pixels, lambda x: net(pixel_values=x).logits)  # (B, C)
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


def _zero_shot(
    images: list[Image],
    labels: list[str],
    templates: list[str],
    model: str | None,
    clock: _Clock,
    models: ModelCache | None,
    batcher: ForwardBatcher | None = None,
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
        pixels = _pixels(bundle, processor.image_processor, images, pixels_only=True)
        clock.lap("preprocess_ms")
        text = _unit(_features(net.get_text_features(**text_inputs)).float())  # (T*L, D)
        text = _unit(text.view(len(templates), len(labels), -1).mean(0))  # (L, D)
        encoded = _shared(
            batcher,
            "image_features",
            net,
            pixels,
            lambda x: _features(net.get_image_features(pixel_values=x)),
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


def _shared(
    batcher: ForwardBatcher | None, what: str, net: Any, pixels: Any, run: Callable[[Any], Any]
) -> Any:
    """run(pixels), in one pass with concurrent callers' pixels for the same model and input shape."""
    import torch

    if batcher is None or not batcher.enabled:
        return run(pixels)

    def forward(batch: list[Any]) -> list[Any]:
        with torch.inference_mode():  # the leader's thread runs it: inference mode is per thread
            out = run(batch[0] if len(batch) == 1 else torch.cat(batch))  # (sum B_i, ...)
        return list(out.split([len(p) for p in batch]))

    key = (what, net, tuple(pixels.shape[1:]), pixels.dtype, pixels.device)
    return batcher.run(key, pixels, forward, rows=len(pixels))


def _pixels(
    bundle: ModelBundle, image_processor: Any, images: list[Image], *, pixels_only: bool = False
) -> Any:
    import torch

    encoded = image_processor(images=images, return_tensors="pt")
    extra = sorted(set(encoded) - {"pixel_values"})
    if pixels_only and extra:
        raise ModelUnavailableError(
            f"{bundle.model_id}'s image processor also gives {', '.join(extra)}: inputs of a "
            "variable-resolution image tower (such as Siglip2Model's) that zero_shot_classify does not "
            "pass; use a fixed-resolution CLIP or SigLIP checkpoint"
        )
    pixels = encoded["pixel_values"]
    dtype = getattr(torch, bundle.dtype)
    return pixels.to(bundle.device, dtype=dtype)


def _label_names(bundle: ModelBundle) -> list[str]:
    id2label = getattr(bundle.model.config, "id2label", None) or {}
    n = int(getattr(bundle.model.config, "num_labels", len(id2label)))
    return [str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(n)]


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


def _percentages(scores: list[LabelProbability]) -> str:
    return ", ".join(f"{s.label!r} {s.probability:.0%}" for s in scores)
