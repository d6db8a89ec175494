"""LoRA fine-tuning with peft: plan a job (prepare), then run it (train).

    prepare(request, limits=, policy=, store=) -> Prepared     checks, data, model, LoraPlan
    train(prepared, progress=None, *, store, on_loss=None, steps=None, learning_rate=None) -> LoraResult

prepare() checks the limits (rank, batch size, steps), that the adapter name is free, loads and
splits the dataset, copies the base model out of the shared model cache and wraps the copy with
peft (seeded, so the LoRA initialisation is reproducible), and times one training step for the
plan's estimate. train() measures the held-out loss and metric, trains, measures again and saves
the adapter atomically; a WorkCancelledError from `progress` stops it and nothing is saved.

Optimisation: AdamW (weight decay 0), learning rate warmed up linearly over the first 5% of steps
then cosine-decayed to 10% of its peak, gradients clipped to norm 1. Default learning rates:
3e-3 (causal-lm) and 1e-2 (image-classification). Each batch holds batch_size examples drawn from
a seeded shuffle (a new one each epoch); for causal-lm an example is a block of tokens (examples.py).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genai_mcp.tools.errors import InvalidInputError, LimitExceededError
from genai_mcp.tools.lora.card import model_card
from genai_mcp.tools.lora.curve import thinned
from genai_mcp.tools.lora.data import ImageData, LoraLimits, TextData, load_dataset
from genai_mcp.tools.lora.examples import (
    Examples,
    ImageExamples,
    TextExamples,
    evaluate,
    loss_of,
    shuffled_batches,
)
from genai_mcp.tools.lora.schemas import AdapterInfo, LoraPlan, LoraRequest, LoraResult, LossPoint, utc_now
from genai_mcp.tools.lora.store import AdapterStore
from genai_mcp.tools.progress import Progress

if TYPE_CHECKING:
    from genai_mcp.tools.images import ImagePolicy
    from genai_mcp.tools.models import ModelBundle, ModelCache

__all__ = [
    "DEFAULT_EPOCHS",
    "DEFAULT_LEARNING_RATE",
    "LossHook",
    "Prepared",
    "prepare",
    "train",
]

DEFAULT_EPOCHS = 3.0
# With neither max_steps nor epochs given, a small dataset still gets enough steps to learn from
# (3 epochs of 15 short texts is 3 steps); never more than the steps limit allows.
DEFAULT_MIN_STEPS = 50
DEFAULT_LEARNING_RATE = {"causal-lm": 3e-3, "image-classification": 1e-2}
WARMUP_SHARE = 0.05
FINAL_LR_SHARE = 0.1
LossHook = Callable[[int, float], None]
"""`on_loss(step, loss)`: after each optimizer step, its training loss (nats), for a loss curve."""


@dataclass
class Prepared:
    """A planned job: the plan to show, and the peft-wrapped model copy train() consumes (once)."""

    request: LoraRequest
    plan: LoraPlan
    limits: LoraLimits
    model: Any  # peft PeftModel around a deep copy of the cached base model
    examples: Examples
    source: str  # where the data came from, for the card
    new_head: bool  # an image classifier given a fresh head for the dataset's labels
    used: bool = False


def prepare(
    request: LoraRequest,
    *,
    limits: LoraLimits,
    policy: ImagePolicy,
    store: AdapterStore,
    models: ModelCache | None = None,
) -> Prepared:
    """Plan `request`, copying the base model out of `models` (None: default_cache()). Raises
    LimitExceededError (rank, batch size, steps, dataset size: each with its lora.* key),
    InvalidInputError (name taken, bad dataset, target modules that match nothing),
    ModelUnavailableError (base model missing or not a checkpoint for the task)."""
    import torch

    from genai_mcp.tools.lora import peft_setup
    from genai_mcp.tools.models import load_model

    _check_limit("the LoRA rank", request.rank, limits.max_rank, "lora.max_rank")
    _check_limit("the batch size", request.batch_size, limits.max_batch_size, "lora.max_batch_size")
    if request.max_steps is not None:
        _check_limit("max_steps", request.max_steps, limits.max_steps, "lora.max_steps")
    name = request.name or _default_name(request, store)
    if store.exists(name):
        raise InvalidInputError(f"an adapter named {name!r} already exists; choose another name")
    data = load_dataset(request, limits=limits, policy=policy)
    bundle = load_model(
        "text-generation" if request.task == "causal-lm" else "image-classification",
        request.base_model,
        models=models,
    )

    model = copy.deepcopy(bundle.model)  # the cached bundle is shared: peft must wrap a private copy
    torch.manual_seed(request.seed)  # a new head's and LoRA A's initialisation
    modules_to_save, labels, examples = _examples(bundle, model, data)
    targets, fan_in_fan_out = peft_setup.resolve_targets(model, request.target_modules, bundle.model_id)
    config = peft_setup.lora_config(
        rank=request.rank,
        alpha=request.alpha,
        dropout=request.dropout,
        targets=targets,
        fan_in_fan_out=fan_in_fan_out,
        modules_to_save=modules_to_save,
    )
    from peft import get_peft_model

    with peft_setup.peft_warnings_silenced():
        model = get_peft_model(model, config)
    model.eval()

    batch = min(request.batch_size, examples.n_train)
    epochs = request.epochs if request.epochs is not None else DEFAULT_EPOCHS
    steps = request.max_steps or math.ceil(epochs * math.ceil(examples.n_train / batch))
    if request.max_steps is None and request.epochs is None:
        steps = max(steps, min(DEFAULT_MIN_STEPS, limits.max_steps))
    _check_limit("the training steps (epochs x batches per epoch)", steps, limits.max_steps, "lora.max_steps")
    trainable, total = model.get_nb_trainable_parameters()
    step_seconds = _time_step(model, examples, batch)
    eval_batches = math.ceil(examples.n_eval / batch)
    plan = LoraPlan(
        task=request.task,
        base_model=bundle.model_id,
        adapter=name,
        train_examples=len(data.train),
        eval_examples=len(data.eval),
        labels=labels,
        trainable_params=int(trainable),
        total_params=int(total),
        trainable_share=trainable / total,
        target_modules=targets,
        rank=request.rank,
        alpha=request.alpha,
        steps=steps,
        epochs=steps * batch / examples.n_train,
        batch_size=request.batch_size,
        learning_rate=request.learning_rate or DEFAULT_LEARNING_RATE[request.task],
        estimated_seconds=_estimate(step_seconds, steps, eval_batches),
    )
    new_head = labels is not None and not peft_setup.keeps_head(bundle.model, labels)
    return Prepared(request, plan, limits, model, examples, data.source, new_head)


def train(
    prepared: Prepared,
    progress: Progress | None = None,
    *,
    store: AdapterStore,
    on_loss: LossHook | None = None,
    steps: int | None = None,
    learning_rate: float | None = None,
) -> LoraResult:
    """Run the planned job and save its adapter in `store`; `steps` / `learning_rate` override the plan.

    `progress(step, steps, "step 3/50, loss 2.3141")` runs after every optimizer step, and
    `progress(step, steps, "evaluating ...")` before each held-out batch (before and after training);
    a WorkCancelledError (or anything) it raises propagates and nothing is saved. Then `on_loss(step,
    loss)` gets the step's training loss. Raises InvalidInputError if the job was already
    trained, the name was taken meanwhile, or training diverged; LimitExceededError for steps.
    """
    import torch

    if prepared.used:
        raise InvalidInputError("this prepared job has already been run; prepare it again")
    request, plan, model, examples = prepared.request, prepared.plan, prepared.model, prepared.examples
    if steps is not None:
        _check_limit("the training steps", steps, prepared.limits.max_steps, "lora.max_steps")
        scale = steps / plan.steps
        plan = plan.model_copy(
            update={
                "steps": steps,
                "epochs": plan.epochs * scale,
                "estimated_seconds": _round2(plan.estimated_seconds * scale),
            }
        )
    if learning_rate is not None:
        plan = plan.model_copy(update={"learning_rate": learning_rate})
    if store.exists(plan.adapter):
        raise InvalidInputError(f"an adapter named {plan.adapter!r} already exists; choose another name")
    prepared.used = True  # from here on the model copy is being changed

    start = time.perf_counter()
    batch = min(request.batch_size, examples.n_train)
    beat = _heartbeat(progress, 0, plan.steps, "before")
    loss_before, metric_before = evaluate(model, examples, batch, beat)
    torch.manual_seed(request.seed)  # dropout
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=plan.learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_factor(plan.steps))
    batches = shuffled_batches(examples.n_train, batch, request.seed)
    losses: list[float] = []
    model.train()
    try:
        for step in range(1, plan.steps + 1):
            x, y = examples.train_batch(next(batches))
            total, count, _ = loss_of(model, x, y)
            loss = total / count
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            schedule.step()
            losses.append(float(loss.item()))
            if not math.isfinite(losses[-1]):
                raise InvalidInputError(
                    f"training diverged at step {step} (loss {losses[-1]}); lower the learning rate "
                    f"(it was {plan.learning_rate:g})"
                )
            if progress is not None:
                progress(step, plan.steps, f"step {step}/{plan.steps}, loss {losses[-1]:.4f}")
            if on_loss is not None:  # after progress: a step refused by a cancel is not recorded
                on_loss(step, losses[-1])
    finally:
        model.eval()
    beat = _heartbeat(progress, len(losses), plan.steps, "after")
    loss_after, metric_after = evaluate(model, examples, batch, beat)

    metric = "perplexity" if request.task == "causal-lm" else "accuracy"
    info = AdapterInfo(
        name=plan.adapter,
        task=request.task,
        base_model=plan.base_model,
        created=utc_now(),
        rank=plan.rank,
        alpha=plan.alpha,
        target_modules=plan.target_modules,
        trainable_params=plan.trainable_params,
        labels=plan.labels,
        eval_metric=metric,
        metric_before=metric_before,
        metric_after=metric_after,
        steps=plan.steps,
        train_examples=plan.train_examples,
    )

    def write(folder: Path) -> None:
        model.save_pretrained(str(folder))
        card = model_card(info, plan, request, prepared.source, loss_before, loss_after, prepared.new_head)
        (folder / "README.md").write_text(card, encoding="utf-8")  # replaces peft's template card

    store.save(plan.adapter, write, info)
    tail = losses[-max(1, math.ceil(len(losses) / 10)) :]
    return LoraResult(
        adapter=plan.adapter,
        adapter_uri=store.uri(plan.adapter),
        plan=plan,
        steps_done=len(losses),
        seconds=time.perf_counter() - start,
        eval_metric=metric,
        eval_loss_before=loss_before,
        eval_loss_after=loss_after,
        metric_before=metric_before,
        metric_after=metric_after,
        train_loss_first=losses[0],
        train_loss_last=sum(tail) / len(tail),
        loss_curve=_thin(losses),
    )


# ---- pieces


def _check_limit(what: str, value: int, limit: int, setting: str) -> None:
    if value > limit:
        raise LimitExceededError(what, value, limit, setting)


def _heartbeat(progress: Progress | None, done: int, total: int, when: str) -> Callable[[], None] | None:
    """What evaluate() calls before each held-out batch: a progress call with no step done."""
    if progress is None:
        return None
    message = f"evaluating the held-out split {when} training"
    return lambda: progress(done, total, message)


def _default_name(request: LoraRequest, store: AdapterStore) -> str:
    base = f"{request.task}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    name, n = base, 1
    while store.exists(name):
        n += 1
        name = f"{base}-{n}"
    return name


def _examples(
    bundle: ModelBundle, model: Any, data: TextData | ImageData
) -> tuple[list[str] | None, list[str] | None, Examples]:
    """(modules_to_save, labels, examples); an image model gets its head for the dataset's labels."""
    from genai_mcp.tools.lora import peft_setup

    if isinstance(data, TextData):
        return None, None, TextExamples.build(bundle.processor, model, data.train, data.eval)
    if peft_setup.keeps_head(model, data.labels):
        names = peft_setup.base_labels(model)
        head = peft_setup.head_name(model, bundle.model_id)
        label_ids = {label: names.index(label) for label in data.labels}
    else:
        head = peft_setup.set_head(model, data.labels, bundle.model_id)
        label_ids = {label: i for i, label in enumerate(data.labels)}
    examples = ImageExamples.build(bundle.processor, model, data.train, data.eval, label_ids)
    return [head], list(data.labels), examples


def _time_step(model: Any, examples: Examples, batch: int) -> float:
    """Seconds of one forward + backward pass on a real batch (best of two); leaves no gradients."""
    import torch

    idx = torch.arange(batch)
    best = math.inf
    model.train()
    try:
        for _ in range(2):
            t0 = time.perf_counter()
            x, y = examples.train_batch(idx)
            total, count, _ = loss_of(model, x, y)
            (total / count).backward()  # type: ignore[no-untyped-call]
            best = min(best, time.perf_counter() - t0)
    finally:
        model.zero_grad(set_to_none=True)
        model.eval()
    return best


def _estimate(step_seconds: float, steps: int, eval_batches: int) -> float:
    # The optimizer update adds ~10% on these sizes; each of the two evaluations is forward only (~1/3).
    return _round2(step_seconds * (1.1 * steps + 2 * eval_batches / 3))


def _round2(x: float) -> float:
    return float(f"{x:.2g}") if x > 0 else 0.0


def _lr_factor(steps: int) -> Callable[[int], float]:
    warmup = max(1, round(WARMUP_SHARE * steps))

    def factor(step: int) -> float:  # step = optimizer steps done so far
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        return FINAL_LR_SHARE + (1 - FINAL_LR_SHARE) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def _thin(losses: list[float]) -> list[LossPoint]:
    return thinned([LossPoint(step=i, loss=loss) for i, loss in enumerate(losses, 1)])
