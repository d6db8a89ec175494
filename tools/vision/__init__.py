"""Image classification and zero-shot classification, one image or a batch in one forward pass.

    classify_images(ClassifyRequest, policy=..., limits=...) -> ClassifyResult
        any AutoModelForImageClassification checkpoint (house/vit-digits by default): the top_k labels
        of each image with softmax probabilities.
    zero_shot_classify(ZeroShotRequest, policy=..., limits=...) -> ZeroShotResult
        any CLIP-style dual encoder (house/clip-digits by default): for each image, a probability for
        every candidate label = softmax over the labels of logit_scale.exp() * cos(image, text), where
        a label's text embedding is the mean of its normalised prompt embeddings over all templates
        (prompt ensembling), normalised again. A SigLIP-style model (one with a logit_bias, such as
        SiglipModel; Siglip2Model is refused: its image tower also wants spatial_shapes) scores each label
        on its own instead, sigmoid(logit_scale.exp() * cos + logit_bias), with prompts padded to the
        text tower's full length as it was trained; the result's `normalization` says which.
    analyse_image(DescribeRequest, policy=...) -> ImageAnalysis
        both of the above on one image; description_prompt(analysis) turns that into an LLM prompt
        for one sentence grounded in those results.

Images arrive as strings and go through genai_mcp.tools.images.load_image (formats, limits, roots).
Importing this package (for the schemas) imports neither torch nor transformers.
"""

from __future__ import annotations

from genai_mcp.tools.vision.inference import (
    analyse_image,
    classify_images,
    description_prompt,
    zero_shot_classify,
)
from genai_mcp.tools.vision.schemas import (
    DEFAULT_TEMPLATE,
    IMAGE_DOC,
    MAX_BATCH,
    MAX_LABELS,
    MAX_PROMPTS,
    MAX_TEMPLATES,
    MAX_TOP_K,
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

__all__ = [
    "DEFAULT_TEMPLATE",
    "IMAGE_DOC",
    "MAX_BATCH",
    "MAX_LABELS",
    "MAX_PROMPTS",
    "MAX_TEMPLATES",
    "MAX_TOP_K",
    "ClassifyRequest",
    "ClassifyResult",
    "DescribeRequest",
    "ImageAnalysis",
    "ImageLabels",
    "LabelProbability",
    "Timing",
    "VisionLimits",
    "ZeroShotImage",
    "ZeroShotRequest",
    "ZeroShotResult",
    "analyse_image",
    "classify_images",
    "description_prompt",
    "zero_shot_classify",
]
