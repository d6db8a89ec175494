"""The README.md model card saved with every adapter: what it adapts, on what, how well, how to use it."""

from __future__ import annotations

from genai_mcp.tools.lora.schemas import AdapterInfo, LoraPlan, LoraRequest

__all__ = ["model_card"]


def model_card(
    info: AdapterInfo,
    plan: LoraPlan,
    request: LoraRequest,
    source: str,
    loss_before: float,
    loss_after: float,
    new_head: bool = False,
) -> str:
    """Markdown: base model, task, data, settings, held-out loss and metric before/after, usage."""
    use = "text generation (or perplexity)" if info.task == "causal-lm" else "image classification"
    metric = info.eval_metric
    fmt = "{:.4g}" if metric == "perplexity" else "{:.1%}"
    labels = f"\n- Classes: {', '.join(info.labels)}" if info.labels else ""
    auto = "AutoModelForCausalLM" if info.task == "causal-lm" else "AutoModelForImageClassification"
    head = ""
    if new_head and info.labels:
        # The adapter holds a classifier for its own classes: the base must be built with that shape.
        id2label = dict(enumerate(info.labels))
        head = f", num_labels={len(info.labels)}, id2label={id2label}, ignore_mismatched_sizes=True"
    return f"""# LoRA adapter `{info.name}`

A LoRA adapter (low-rank update W + (alpha/r)·A·B, base weights frozen) made by genai-mcp's LoRA fine-tuning.

- Base model: `{info.base_model}`
- Task: {info.task}
- Data: {source}; {plan.train_examples} training and {plan.eval_examples} held-out examples{labels}
- Created: {info.created} (UTC)

## Settings

| rank | alpha | dropout | target modules | steps | epochs | batch | learning rate | seed |
|---|---|---|---|---|---|---|---|---|
| {info.rank} | {info.alpha:g} | {request.dropout:g} | {", ".join(info.target_modules)} | {info.steps} | {plan.epochs:.3g} | {plan.batch_size} | {plan.learning_rate:g} | {request.seed} |

Trainable parameters: {info.trainable_params:,} of {plan.total_params:,} ({plan.trainable_share:.2%}).

## Held-out results

| | before | after |
|---|---|---|
| mean loss (nats) | {loss_before:.4f} | {loss_after:.4f} |
| {metric} | {fmt.format(info.metric_before)} | {fmt.format(info.metric_after)} |

## Use

Through the server: pass `adapter="{info.name}"` to {use} (leave `model` null, or give `{info.base_model}`).

In Python, with peft:

```python
from peft import PeftModel
from transformers import {auto}

base = {auto}.from_pretrained("<the base model's folder or hub id>"{head})
model = PeftModel.from_pretrained(base, "<this folder>").merge_and_unload()
```
"""
