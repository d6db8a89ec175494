"""zero_shot_classify on a SigLIP checkpoint built here (tests/helpers/checkpoints.py save_siglip):
sigmoid per label, equal to the transformers model's own sigmoid(logits_per_image), through the
micro-batcher too; CLIP stays softmax; a model that is neither is a clear error."""

from __future__ import annotations

import io
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from genai_mcp.tools.errors import ModelUnavailableError
from genai_mcp.tools.house import house_model
from genai_mcp.tools.models.batching import ForwardBatcher
from genai_mcp.tools.vision import ZeroShotRequest, ZeroShotResult, zero_shot_classify
from tests.helpers.checkpoints import direct_siglip_probabilities, save_siglip
from tests.helpers.images import b64, encode, noise_png

LABELS = ["cat", "dog", "a red car"]


@pytest.fixture(scope="module")
def siglip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_siglip(tmp_path_factory.mktemp("siglip") / "model")


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    return [Image.open(io.BytesIO(noise_png(20, 20, seed=i))).convert("RGB") for i in range(4)]


def classify(model: str, images: list[Image.Image], **options: object) -> ZeroShotResult:
    request = ZeroShotRequest(image=[b64(encode(im)) for im in images], model=model, **options)  # type: ignore[arg-type]
    return zero_shot_classify(request)


def test_probabilities_are_the_models_own_sigmoids(siglip: Path, images: list[Image.Image]) -> None:
    result = classify(str(siglip), images, labels=LABELS, templates=["a photo of {}"])
    assert result.normalization == "sigmoid" and result.model == str(siglip)
    expected = direct_siglip_probabilities(siglip, images, [f"a photo of {label}" for label in LABELS])
    for row, want in zip(result.results, expected, strict=True):
        got = [s.probability for s in row.scores]
        assert [s.label for s in row.scores] == LABELS
        assert got == pytest.approx(want, abs=1e-5)
        assert row.best_label == LABELS[max(range(3), key=got.__getitem__)]
        assert row.best_probability == max(got)
    # Independent per label: these rows do not sum to 1 (softmax rows would).
    sums = [sum(s.probability for s in row.scores) for row in result.results]
    assert all(abs(total - 1) > 0.05 for total in sums), sums


def test_a_labels_probability_does_not_depend_on_the_other_labels(
    siglip: Path, images: list[Image.Image]
) -> None:
    # Padding to the full text length makes each prompt's embedding its own: with padding to the
    # longest prompt, "cat" would be encoded differently next to "a red car".
    alone = classify(str(siglip), images[:1], labels=["cat"])
    together = classify(str(siglip), images[:1], labels=LABELS)
    assert alone.results[0].scores[0].probability == pytest.approx(
        together.results[0].scores[0].probability, abs=1e-6
    )


def test_clip_results_stay_softmax(images: list[Image.Image]) -> None:
    result = classify("house/clip-digits", images[:2], labels=["zero", "one", "two"])
    assert result.normalization == "softmax"
    for row in result.results:
        assert sum(s.probability for s in row.scores) == pytest.approx(1, abs=1e-5)


def test_concurrent_calls_share_the_image_pass(siglip: Path, images: list[Image.Image]) -> None:
    alone = [classify(str(siglip), [im], labels=LABELS[: 1 + i % 3]) for i, im in enumerate(images)]
    batcher = ForwardBatcher(window_s=30.0, max_batch=len(images))  # released by filling up, not by time
    request = ZeroShotRequest(image=b64(encode(images[0])), model=str(siglip), labels=LABELS)
    zero_shot_classify(request, batcher=batcher)  # company seen: the burst's first caller waits
    barrier = threading.Barrier(len(images))

    def one(i: int) -> ZeroShotResult:
        request = ZeroShotRequest(
            image=[b64(encode(images[i]))], model=str(siglip), labels=LABELS[: 1 + i % 3]
        )
        barrier.wait()
        return zero_shot_classify(request, batcher=batcher)

    with ThreadPoolExecutor(len(images)) as pool:
        shared = list(pool.map(one, range(len(images))))
    stats = batcher.stats()
    assert stats.forwards == 2 and stats.largest_batch == len(images)
    for a, b in zip(alone, shared, strict=True):
        assert b.normalization == "sigmoid"
        got, want = [s.probability for s in b.results[0].scores], [s.probability for s in a.results[0].scores]
        assert got == pytest.approx(want, abs=1e-5)


def test_a_model_that_is_neither_or_lacks_its_image_processor_is_named(
    siglip: Path, images: list[Image.Image], tmp_path: Path
) -> None:
    vit = house_model("house/vit-digits").path
    with pytest.raises(
        ModelUnavailableError, match=r"ViTForImageClassification\), not a checkpoint for zero-shot"
    ):
        classify(str(vit), images[:1], labels=LABELS)
    broken = tmp_path / "no-image-processor"
    shutil.copytree(siglip, broken)
    (broken / "processor_config.json").unlink()  # it holds the image processor's settings
    with pytest.raises(
        ModelUnavailableError,
        match=r"has no usable processor .*image processor.*expects a CLIP-style dual encoder",
    ):
        classify(str(broken), images[:1], labels=LABELS)
    # Siglip2 (NaFlex) loads, but its image tower needs patch masks and grid shapes besides pixels.
    siglip2 = save_siglip(tmp_path / "siglip2", version=2)
    with pytest.raises(
        ModelUnavailableError, match=r"also gives pixel_attention_mask, spatial_shapes: .*Siglip2Model"
    ):
        classify(str(siglip2), images[:1], labels=LABELS)
