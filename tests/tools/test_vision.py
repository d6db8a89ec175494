"""classify_images / zero_shot_classify / analyse_image on the house ViT and CLIP (each loaded once)."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image
from pydantic import ValidationError

from genai_mcp.tools.errors import InvalidInputError, LimitExceededError, ModelUnavailableError
from genai_mcp.tools.house.digits import DIGIT_NAMES, digit_images
from genai_mcp.tools.images import ImagePolicy
from genai_mcp.tools.models import ModelBundle, load_model
from genai_mcp.tools.vision import (
    MAX_PROMPTS,
    ClassifyRequest,
    DescribeRequest,
    VisionLimits,
    ZeroShotRequest,
    analyse_image,
    classify_images,
    description_prompt,
    zero_shot_classify,
)

DIGIT_TEMPLATE = "a photo of the digit {}"


def png_b64(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


@pytest.fixture(scope="module")
def digits() -> tuple[list[str], list[int]]:
    images, labels = digit_images("test")
    return [png_b64(im) for im in images[:12]], labels[:12]


@pytest.fixture(scope="module")
def clip() -> ModelBundle:
    return load_model("zero-shot-image-classification")


def test_classify_returns_top_k_labels_most_probable_first(digits: tuple[list[str], list[int]]) -> None:
    specs, labels = digits
    result = classify_images(ClassifyRequest(image=specs[0], top_k=3))
    assert result.model == "house/vit-digits" and result.device == "cpu"
    (only,) = result.results
    probs = [lp.probability for lp in only.labels]
    assert len(probs) == 3 and probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
    assert only.labels[0].label == str(labels[0])
    t = result.timing
    assert min(t.load_ms, t.decode_ms, t.preprocess_ms, t.forward_ms) >= 0
    assert t.total_ms >= t.decode_ms + t.forward_ms
    # top_k beyond the label count returns every label once, summing to 1.
    everything = classify_images(ClassifyRequest(image=specs[0], top_k=50)).results[0].labels
    assert sorted(lp.label for lp in everything) == [str(d) for d in range(10)]
    assert sum(lp.probability for lp in everything) == pytest.approx(1, abs=1e-5)


def test_a_batch_equals_the_single_calls(digits: tuple[list[str], list[int]]) -> None:
    specs, labels = digits
    batch = classify_images(ClassifyRequest(image=specs, top_k=10)).results
    assert sum(r.labels[0].label == str(y) for r, y in zip(batch, labels, strict=True)) >= 11
    for spec, together in zip(specs[:4], batch, strict=False):
        alone = classify_images(ClassifyRequest(image=[spec], top_k=10)).results[0]
        assert [lp.label for lp in alone.labels] == [lp.label for lp in together.labels]
        for a, b in zip(alone.labels, together.labels, strict=True):
            assert a.probability == pytest.approx(b.probability, abs=1e-5)


def test_the_batch_limit_and_a_bad_image_in_a_batch_are_named(digits: tuple[list[str], list[int]]) -> None:
    specs, _ = digits
    with pytest.raises(
        LimitExceededError, match=r"images in one call is 12, over the limit of 4$"
    ) as refused:
        classify_images(ClassifyRequest(image=specs), limits=VisionLimits(max_batch=4))
    assert refused.value.setting == "vision.max_batch"
    with pytest.raises(InvalidInputError, match=r"^image 1 \(counting from 0\): the data is not a PNG"):
        classify_images(ClassifyRequest(image=[specs[0], base64.b64encode(b"x" * 80).decode()]))
    with pytest.raises(InvalidInputError, match="no image given"):
        classify_images(ClassifyRequest(image=[]))


def test_unknown_models_are_refused() -> None:
    spec = png_b64(digit_images("test")[0][0])
    with pytest.raises(ModelUnavailableError, match="not in the local Hugging Face cache"):
        classify_images(ClassifyRequest(image=spec, model="nobody/no-such-model"))
    with pytest.raises(ModelUnavailableError, match="not a image-classification model"):
        classify_images(ClassifyRequest(image=spec, model="house/clip-digits"))


def test_zero_shot_is_softmax_of_scaled_cosines_as_clip_computes_it(
    clip: ModelBundle, digits: tuple[list[str], list[int]]
) -> None:
    import torch

    specs, labels = digits
    result = zero_shot_classify(
        ZeroShotRequest(image=specs[:4], labels=list(DIGIT_NAMES), templates=[DIGIT_TEMPLATE])
    )
    assert result.model == "house/clip-digits" and result.templates == [DIGIT_TEMPLATE]
    images = digit_images("test")[0][:4]
    prompts = [DIGIT_TEMPLATE.replace("{}", name) for name in DIGIT_NAMES]
    processor: Any = clip.processor
    with torch.inference_mode():
        inputs = processor(text=prompts, images=images, return_tensors="pt", padding=True)
        expected = clip.model(**inputs).logits_per_image.softmax(-1)  # CLIP's own scaled cosine logits
    for row, image_result, label in zip(expected.tolist(), result.results, labels, strict=False):
        assert [s.label for s in image_result.scores] == list(DIGIT_NAMES)  # the caller's order
        assert [s.probability for s in image_result.scores] == pytest.approx(row, abs=1e-5)
        assert image_result.best_label == DIGIT_NAMES[label]
        assert image_result.best_probability == max(row) == pytest.approx(max(row))


def test_several_templates_average_the_normalised_text_embeddings(
    clip: ModelBundle, digits: tuple[list[str], list[int]]
) -> None:
    import torch

    templates = [DIGIT_TEMPLATE, "a handwritten {}"]
    result = zero_shot_classify(
        ZeroShotRequest(image=digits[0][0], labels=list(DIGIT_NAMES), templates=templates)
    )
    processor: Any = clip.processor
    with torch.inference_mode():
        per_template = []
        for template in templates:
            tokens = processor.tokenizer(
                [template.replace("{}", n) for n in DIGIT_NAMES], padding=True, return_tensors="pt"
            )
            emb = clip.model.get_text_features(**tokens).pooler_output
            per_template.append(emb / emb.norm(dim=-1, keepdim=True))
        text = torch.stack(per_template).mean(0)
        text = text / text.norm(dim=-1, keepdim=True)
        pixels = processor.image_processor(images=digit_images("test")[0][:1], return_tensors="pt")[
            "pixel_values"
        ]
        image = clip.model.get_image_features(pixel_values=pixels).pooler_output
        image = image / image.norm(dim=-1, keepdim=True)
        expected = (clip.model.logit_scale.exp() * image @ text.T).softmax(-1)[0]
    got = [s.probability for s in result.results[0].scores]
    assert got == pytest.approx(expected.tolist(), abs=1e-5)
    assert sum(got) == pytest.approx(1, abs=1e-5)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"labels": []}, "at least 1 item"),
        ({"labels": ["seven", "Seven "]}, "distinct .ignoring case and spaces.: 'seven' and 'Seven '"),
        ({"labels": ["a", "  "]}, "a label is blank"),
        ({"labels": ["a"], "templates": ["no slot here"]}, "must contain '\\{\\}' exactly once"),
        ({"labels": ["a"], "templates": ["{} and {}"]}, "exactly once"),
        ({"labels": ["a"], "templates": []}, "at least 1 item"),
    ],
)
def test_zero_shot_requests_are_validated(fields: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        ZeroShotRequest(image="x", **fields)


def test_too_many_prompts_are_refused_before_loading(digits: tuple[list[str], list[int]]) -> None:
    labels = [f"label {i}" for i in range(1000)]
    templates = [f"{{}} {i}" for i in range(MAX_PROMPTS // 1000 + 1)]
    with pytest.raises(LimitExceededError, match=f"over the limit of {MAX_PROMPTS}"):
        zero_shot_classify(ZeroShotRequest(image=digits[0][0], labels=labels, templates=templates))


def test_analyse_image_defaults_to_the_classifier_labels_and_grounds_the_prompt(
    digits: tuple[list[str], list[int]],
) -> None:
    specs, labels = digits
    analysis = analyse_image(DescribeRequest(image=specs[0]), policy=ImagePolicy())
    assert [s.label for s in analysis.zero_shot.results[0].scores] == [str(d) for d in range(10)]
    assert analysis.zero_shot.results[0].best_label == str(labels[0])
    assert len(analysis.classification.results[0].labels) == 3
    system, user = description_prompt(analysis)
    assert "one sentence" in system
    assert "house/vit-digits" in user and "house/clip-digits" in user and f"'{labels[0]}'" in user
