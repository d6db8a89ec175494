"""Requests and results of the vision tools (pydantic; import-light: no torch, no PIL).

Limits that do not depend on the server's settings are fixed here; the per-call image limits
(bytes, pixels, roots) come from the caller's ImagePolicy, the batch size from VisionLimits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from genai_mcp.tools.limits import limit
from genai_mcp.tools.models.adapted import AdapterRef

__all__ = [
    "DEFAULT_TEMPLATE",
    "IMAGE_DOC",
    "MAX_BATCH",
    "MAX_LABELS",
    "MAX_LABEL_CHARS",
    "MAX_PROMPTS",
    "MAX_TEMPLATES",
    "MAX_TOP_K",
    "CandidateLabel",
    "ClassifyRequest",
    "ClassifyResult",
    "DescribeRequest",
    "ImageAnalysis",
    "ImageLabels",
    "ImageSpec",
    "Images",
    "LabelProbability",
    "ModelId",
    "Templates",
    "Timing",
    "VisionLimits",
    "ZeroShotImage",
    "ZeroShotRequest",
    "ZeroShotResult",
]

MAX_BATCH = 64
MAX_TOP_K = 100
MAX_LABELS = 1000
MAX_LABEL_CHARS = 200
MAX_TEMPLATES = 32
MAX_PROMPTS = 8192
"""labels x templates: each is one text-encoder input."""
DEFAULT_TEMPLATE = "a photo of {}"


@dataclass(frozen=True)
class VisionLimits:
    """What one classification call may ask for; a refusal carries the key of the limit it hit."""

    max_batch: int = limit("vision.max_batch", MAX_BATCH)  # images per call (one forward pass)


IMAGE_DOC = (
    "base64 (raw or a data:image/...;base64, URI), a file path under the server's roots, or the "
    "genai-mcp://outputs/... URI of an image this server produced. PNG, JPEG, WebP, GIF (one frame) or BMP"
)
ImageSpec = Annotated[str, Field(min_length=1)]
Images = Annotated[
    ImageSpec | list[ImageSpec],
    Field(description=f"One image, or a list of images classified in one forward pass. Each: {IMAGE_DOC}."),
]
ModelId = Annotated[
    str | None,
    Field(
        description=(
            "A Hugging Face hub id (from the local cache unless downloads are on), a local directory, "
            "or a house model; null for the default."
        )
    ),
]
CandidateLabel = Annotated[str, Field(min_length=1, max_length=MAX_LABEL_CHARS)]


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image: Images
    model: ModelId = None
    top_k: int = Field(
        5,
        ge=1,
        le=MAX_TOP_K,
        description="Labels returned per image, most probable first (capped at the model's label count).",
    )
    adapter: AdapterRef = None


def _check_templates(templates: list[str]) -> list[str]:
    for t in templates:
        if t.count("{}") != 1:
            raise ValueError(f"template {t[:80]!r} must contain '{{}}' exactly once (where the label goes)")
    if len(set(templates)) != len(templates):
        raise ValueError("templates lists the same template more than once")
    return templates


def _check_labels(labels: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for label in labels:
        key = " ".join(label.split()).casefold()
        if not key:
            raise ValueError("a label is blank")
        if key in seen:
            # CLIP-style tokenizers ignore case and extra spaces: such labels would split one score.
            raise ValueError(
                f"labels must be distinct (ignoring case and spaces): {seen[key]!r} and {label!r}"
            )
        seen[key] = label
    return labels


Templates = Annotated[
    list[Annotated[str, Field(min_length=2, max_length=MAX_LABEL_CHARS)]],
    Field(
        min_length=1,
        max_length=MAX_TEMPLATES,
        description=(
            "Prompt templates, each with one '{}' where the label goes; several are averaged "
            f"(prompt ensembling). At most {MAX_TEMPLATES}."
        ),
    ),
]


class ZeroShotRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image: Images
    labels: list[CandidateLabel] = Field(
        min_length=1,
        max_length=MAX_LABELS,
        description=f"Candidate labels, distinct (ignoring case), 1 to {MAX_LABELS}.",
    )
    templates: Templates = Field(default_factory=lambda: [DEFAULT_TEMPLATE])
    model: ModelId = None

    @field_validator("labels")
    @classmethod
    def _distinct_labels(cls, labels: list[str]) -> list[str]:
        return _check_labels(labels)

    @field_validator("templates")
    @classmethod
    def _one_slot_each(cls, templates: list[str]) -> list[str]:
        return _check_templates(templates)


class DescribeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image: Annotated[str, Field(min_length=1, description=f"One image: {IMAGE_DOC}.")]
    labels: list[CandidateLabel] | None = Field(
        None,
        min_length=1,
        max_length=MAX_LABELS,
        description="Candidate labels for the zero-shot model; null: the classifier's label names.",
    )
    templates: Templates = Field(default_factory=lambda: [DEFAULT_TEMPLATE])
    top_k: int = Field(3, ge=1, le=MAX_TOP_K, description="Classifier labels shown.")
    classifier_model: ModelId = None
    zero_shot_model: ModelId = None

    @field_validator("labels")
    @classmethod
    def _distinct_labels(cls, labels: list[str] | None) -> list[str] | None:
        return None if labels is None else _check_labels(labels)

    @field_validator("templates")
    @classmethod
    def _one_slot_each(cls, templates: list[str]) -> list[str]:
        return _check_templates(templates)


class LabelProbability(BaseModel):
    label: str
    probability: float = Field(
        ge=0,
        le=1,
        description=(
            "Probability, 0-1: softmax over the labels, except for a SigLIP-style zero-shot model, whose "
            "result's normalization is 'sigmoid' (each label's own sigmoid)."
        ),
    )


class Timing(BaseModel):
    """Wall time of one call, milliseconds."""

    load_ms: float = Field(description="Getting the model: a cache hit is ~0; the first call loads it.")
    decode_ms: float = Field(description="Reading and decoding the input images.")
    preprocess_ms: float = Field(description="The model's processor: resizing, normalising, tokenizing.")
    forward_ms: float = Field(description="The forward pass (one for the whole batch) and the softmax.")
    total_ms: float


class ImageLabels(BaseModel):
    labels: list[LabelProbability] = Field(description="The top_k labels, most probable first.")


class ClassifyResult(BaseModel):
    model: str = Field(description="The model used (resolved id or directory).")
    device: str
    results: list[ImageLabels] = Field(description="One entry per input image, in input order.")
    timing: Timing


class ZeroShotImage(BaseModel):
    scores: list[LabelProbability] = Field(
        description=(
            "Every candidate label, in the order given; probabilities sum to 1 with softmax, and are "
            "independent (any sum) with sigmoid."
        )
    )
    best_label: str
    best_probability: float = Field(ge=0, le=1)


class ZeroShotResult(BaseModel):
    model: str
    device: str
    normalization: Literal["softmax", "sigmoid"] = Field(
        description=(
            "softmax: CLIP-style, probabilities over the labels, softmax of logit_scale.exp() * cos. "
            "sigmoid: SigLIP-style (the model has a logit_bias), each label's own probability, "
            "sigmoid(logit_scale.exp() * cos + logit_bias)."
        )
    )
    templates: list[str] = Field(description="The templates whose prompts were averaged.")
    results: list[ZeroShotImage] = Field(description="One entry per input image, in input order.")
    timing: Timing


class ImageAnalysis(BaseModel):
    classification: ClassifyResult
    zero_shot: ZeroShotResult
