"""LoRA training on the house models, end to end: plan, train, save, reload merged (no mocks)."""

from __future__ import annotations

import base64
import io
import math
import random
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from genai_mcp.tools.errors import (
    InvalidInputError,
    LimitExceededError,
    ModelUnavailableError,
    WorkCancelledError,
)
from genai_mcp.tools.images import ImagePolicy
from genai_mcp.tools.lora.data import LoraLimits
from genai_mcp.tools.lora.examples import evaluate
from genai_mcp.tools.lora.schemas import LabelledImage, LoraRequest
from genai_mcp.tools.lora.store import AdapterStore
from genai_mcp.tools.lora.train import Prepared, prepare, train
from genai_mcp.tools.models.adapted import load_adapted

LIMITS = LoraLimits()
POLICY = ImagePolicy()
ANIMALS = ["zebra", "giraffe", "penguin", "walrus", "otter", "llama"]
VERBS = ["sings", "dances", "whispers", "juggles", "naps", "paints"]
PLACES = ["library", "garden", "lighthouse", "bakery", "harbour", "meadow"]
STYLE_WORDS = {*ANIMALS, *VERBS, *PLACES}


@pytest.fixture
def store(tmp_path: Path) -> AdapterStore:
    return AdapterStore(tmp_path / "adapters", uri_prefix="test://adapters/")


def _zoo_texts(n: int = 48, seed: int = 0) -> list[str]:
    """Passages in a style far from the house GPT-2's Python documentation."""
    rng = random.Random(seed)

    def sentence() -> str:
        return (
            f"the {rng.choice(ANIMALS)} number {rng.randint(1, 99)} {rng.choice(VERBS)} "
            f"in the {rng.choice(PLACES)}."
        )

    return [" ".join(sentence() for _ in range(3)) for _ in range(n)]


def _digits(n: int, label: Any = str, invert: bool = True) -> list[LabelledImage]:
    from PIL import ImageOps

    from genai_mcp.tools.house.digits import digit_images

    images, ys = digit_images("train")
    items = []
    for image, y in zip(images[:n], ys[:n], strict=True):
        buf = io.BytesIO()
        (ImageOps.invert(image) if invert else image).save(buf, format="PNG")
        uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
        items.append(LabelledImage(image=uri, label=label(y)))
    return items


def _greedy(bundle: Any, prompt: str, n: int = 32) -> str:
    from genai_mcp.tools.text import Sampling, decode_tokens
    from genai_mcp.tools.text.lm import encode

    ids = encode(bundle.processor, prompt)
    return decode_tokens(bundle.model, bundle.processor, ids, n, Sampling(0.0, 0, 1.0, 1.0)).text


def _style_words(text: str) -> int:
    return sum(w in STYLE_WORDS for w in re.findall(r"[a-z]+", text.lower()))


def test_causal_lm_lora_learns_the_style_and_changes_generation(store: AdapterStore, tmp_path: Path) -> None:
    from genai_mcp.tools.models import load_model

    base = load_model("text-generation")
    prompt = "the walrus number 3 naps in the garden."
    base_before = _greedy(base, prompt)
    # 1e-2 rather than the default 3e-3: the style is learnt in 30 steps (held-out loss ~5.5 -> ~0.8)
    request = LoraRequest(
        task="causal-lm", dataset=_zoo_texts(), name="zoo", max_steps=30, learning_rate=1e-2
    )
    prepared = prepare(request, limits=LIMITS, policy=POLICY, store=store)
    plan = prepared.plan
    assert (plan.adapter, plan.base_model, plan.target_modules) == (
        "zoo",
        "house/gpt2-pydocs",
        ["c_attn", "c_proj"],
    )
    # 4 layers x (c_attn 128->384, attn c_proj 128->128, mlp c_proj 512->128), r=8: A + B per layer
    assert plan.trainable_params == 4 * 8 * ((128 + 384) + (128 + 128) + (512 + 128))
    assert plan.total_params > plan.trainable_params and plan.trainable_share < 0.05
    assert (plan.train_examples, plan.eval_examples, plan.steps) == (38, 10, 30)
    assert plan.learning_rate == 1e-2 and plan.labels is None and plan.estimated_seconds > 0

    seen: list[tuple[int, int | None, str | None]] = []
    losses: list[tuple[int, float]] = []
    result = train(
        prepared,
        lambda done, total, message=None: seen.append((done, total, message)),
        store=store,
        on_loss=lambda step, loss: losses.append((step, loss)),
    )
    # Steps with their loss; between held-out batches (before and after), heartbeats without one.
    steps = [s for s in seen if s[2] is not None and s[2].startswith("step ")]
    assert [s[:2] for s in steps] == [(i, 30) for i in range(1, 31)]
    assert [step for step, _ in losses] == list(range(1, 31))
    assert steps[0][2] == f"step 1/30, loss {losses[0][1]:.4f}"  # for people; on_loss carries the number
    assert {s[0] for s in seen if s not in steps} == {0, 30}
    assert [p.loss for p in result.loss_curve] == [loss for _, loss in losses]
    assert result.eval_loss_after < result.eval_loss_before - 1.0, result
    assert result.metric_after == pytest.approx(math.exp(result.eval_loss_after))
    assert result.train_loss_last < result.train_loss_first and len(result.loss_curve) == 30
    assert (result.adapter, result.adapter_uri, result.steps_done) == ("zoo", "test://adapters/zoo", 30)
    info = store.info("zoo")
    assert info.metric_after == result.metric_after and info.size_bytes > 0
    assert 'pass `adapter="zoo"` to text generation' in (store.path("zoo") / "README.md").read_text()

    adapted = load_adapted("text-generation", "zoo", store)
    assert adapted.model_id == "house/gpt2-pydocs+adapter:zoo" and not adapted.model.training
    assert load_adapted("text-generation", "zoo", store, base_model="house/gpt2-pydocs") is adapted  # cached
    # The merged weights score the held-out text exactly as the trained peft model did.
    assert evaluate(adapted.model, prepared.examples, 8)[0] == pytest.approx(result.eval_loss_after, rel=1e-4)
    assert _greedy(base, prompt) == base_before  # the shared cached base was never modified
    after = _greedy(adapted, prompt)
    assert after != base_before
    # e.g. " the giraffe number 68 sings in the library. the ..." against Python-docs prose
    assert _style_words(after) >= 3 and _style_words(base_before) <= 1, (base_before, after)

    with pytest.raises(InvalidInputError, match="trained for causal-lm; use it for text generation"):
        load_adapted("image-classification", "zoo", store)
    other = tmp_path / "gpt2-copy"
    shutil.copytree(Path(base.path or ""), other)
    with pytest.raises(InvalidInputError, match=r"trained on house/gpt2-pydocs, not .*gpt2-copy"):
        load_adapted("text-generation", "zoo", store, base_model=str(other))
    with pytest.raises(InvalidInputError, match="already been run"):
        train(prepared, store=store)


def _accuracy(bundle: Any, images: list[Any], labels: list[int]) -> float:
    import torch

    with torch.no_grad():
        pixels = bundle.processor(images=images, return_tensors="pt")["pixel_values"]
        predicted = bundle.model(pixel_values=pixels).logits.argmax(-1).tolist()
    names = bundle.model.config.id2label
    right: int = sum(names[p] == str(y) for p, y in zip(predicted, labels, strict=True))
    return right / len(labels)


def test_vit_lora_learns_inverted_digits(store: AdapterStore) -> None:
    from PIL import ImageOps

    from genai_mcp.tools.house.digits import digit_images
    from genai_mcp.tools.models import load_model

    request = LoraRequest(
        task="image-classification", dataset=_digits(500), name="inverted", max_steps=100, batch_size=32
    )
    prepared = prepare(request, limits=LIMITS, policy=POLICY, store=store)
    assert prepared.plan.target_modules == ["q_proj", "v_proj"] and prepared.plan.learning_rate == 1e-2
    assert prepared.plan.labels == [str(i) for i in range(10)]
    result = train(prepared, store=store)
    assert result.eval_metric == "accuracy"
    assert result.metric_after >= result.metric_before + 0.30, result

    images, ys = digit_images("test")
    inverted = [ImageOps.invert(im) for im in images[:200]]
    base_acc = _accuracy(load_model("image-classification"), inverted, ys[:200])
    adapted = load_adapted("image-classification", "inverted", store)
    assert adapted.model.config.num_labels == 10  # the base head was kept (and trained)
    adapted_acc = _accuracy(adapted, inverted, ys[:200])
    assert adapted_acc >= base_acc + 0.30, (base_acc, adapted_acc)
    assert _accuracy(load_model("image-classification"), images[:200], ys[:200]) > 0.9  # base untouched


def test_new_labels_get_a_new_head_that_loads_back(store: AdapterStore) -> None:
    request = LoraRequest(
        task="image-classification",
        dataset=_digits(120, lambda y: "even" if y % 2 == 0 else "odd", invert=False),
        name="parity",
        max_steps=20,
        batch_size=16,
    )
    prepared = prepare(request, limits=LIMITS, policy=POLICY, store=store)
    assert prepared.plan.labels == ["even", "odd"]
    result = train(prepared, store=store)
    assert store.info("parity").labels == ["even", "odd"]
    assert "num_labels=2" in (store.path("parity") / "README.md").read_text()  # how to rebuild the head
    adapted = load_adapted("image-classification", "parity", store)
    assert adapted.model.config.id2label == {0: "even", 1: "odd"}
    loss, accuracy = evaluate(adapted.model, prepared.examples, 16)
    assert loss == pytest.approx(result.eval_loss_after, rel=1e-4) and accuracy == result.metric_after
    with pytest.raises(
        InvalidInputError, match="trained for image-classification; use it for image classification"
    ):
        load_adapted("text-generation", "parity", store)


def test_cancel_saves_nothing(store: AdapterStore) -> None:
    request = LoraRequest(task="image-classification", dataset=_digits(40), name="stopped", max_steps=10)
    prepared = prepare(request, limits=LIMITS, policy=POLICY, store=store)
    steps: list[int] = []

    def progress(done: int, total: int | None, message: str | None = None) -> None:
        if done == 3:
            raise WorkCancelledError("cancelled by the user")

    with pytest.raises(WorkCancelledError):
        train(prepared, progress, store=store, on_loss=lambda step, loss: steps.append(step))
    assert steps == [1, 2] and store.list() == [] and not store.exists("stopped")
    assert not store.root.exists() or list(store.root.iterdir()) == []

    # A cancel during the held-out evaluation (a heartbeat) stops before any training step.
    def refuse(done: int, total: int | None, message: str | None = None) -> None:
        raise WorkCancelledError("cancelled during evaluation")

    again = prepare(
        request.model_copy(update={"name": "stopped-early"}), limits=LIMITS, policy=POLICY, store=store
    )
    with pytest.raises(WorkCancelledError, match="during evaluation"):
        train(again, refuse, store=store)
    assert not store.exists("stopped-early")


def _refusal(store: AdapterStore, limits: LoraLimits = LIMITS, **fields: Any) -> Prepared:
    fields.setdefault("task", "causal-lm")
    fields.setdefault("dataset", _zoo_texts(10))
    return prepare(LoraRequest(**fields), limits=limits, policy=POLICY, store=store)


def test_limits_names_and_targets_are_checked(store: AdapterStore) -> None:
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"rank": 65}, "rank is 65, over the limit of 64", "lora.max_rank"),
        ({"batch_size": 65}, "batch size is 65, over the limit of 64", "lora.max_batch_size"),
        ({"max_steps": 2001}, "max_steps is 2001, over the limit of 2000", "lora.max_steps"),
    ]
    for fields, words, key in cases:
        with pytest.raises(LimitExceededError, match=words) as refused:
            _refusal(store, LIMITS, **fields)
        assert refused.value.setting == key
    with pytest.raises(LimitExceededError, match=r"training steps .* is 100, over the limit of 50"):
        _refusal(store, LoraLimits(max_steps=50), epochs=100)  # 8 texts, 1 block, batch 1: 100 steps
    with pytest.raises(InvalidInputError, match=r"\['attn'\] match no linear layer.*c_attn, c_fc, c_proj"):
        _refusal(store, target_modules=["c_attn", "attn"])
    with pytest.raises(ModelUnavailableError):
        _refusal(store, base_model="house/vit-digits")

    prepared = _refusal(store, max_steps=2, target_modules=["c_fc"])
    assert re.fullmatch(r"causal-lm-\d{8}-\d{6}", prepared.plan.adapter)
    assert prepared.plan.target_modules == ["c_fc"] and prepared.plan.trainable_params == 4 * 8 * (128 + 512)
    assert prepared.plan.learning_rate == 3e-3  # the causal-lm default
    with pytest.raises(LimitExceededError, match="steps is 2001") as refused:
        train(prepared, store=store, steps=2001)
    assert refused.value.setting == "lora.max_steps"
    result = train(prepared, store=store, steps=3, learning_rate=1e-3)
    assert (result.steps_done, result.plan.steps, result.plan.learning_rate) == (3, 3, 1e-3)
    with pytest.raises(InvalidInputError, match=f"{result.adapter!r} already exists"):
        _refusal(store, name=result.adapter)


def test_default_steps_cover_three_epochs_but_at_least_fifty(store: AdapterStore) -> None:
    small = _refusal(store)  # 10 short texts make one training block: 3 epochs would be 3 steps
    assert small.plan.steps == 50
    assert _refusal(store, LoraLimits(max_steps=20)).plan.steps == 20  # never past the limit
    assert _refusal(store, epochs=3).plan.steps == 3  # asked for explicitly
