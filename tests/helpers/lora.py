"""A LoRA plan and result with made-up figures, for tests of the job machinery and the confirmation
(no training runs)."""

from __future__ import annotations

from genai_mcp.tools.lora import LoraPlan, LoraResult

__all__ = ["made_up_plan", "made_up_result"]


def made_up_plan(**changes: object) -> LoraPlan:
    """A plausible causal-LM plan; `changes` override its fields."""
    values: dict[str, object] = dict(
        task="causal-lm",
        base_model="house/gpt2-pydocs",
        adapter="pydocs-style",
        train_examples=40,
        eval_examples=4,
        trainable_params=147_456,
        total_params=2_000_000,
        trainable_share=0.0737,
        target_modules=["c_attn"],
        rank=8,
        alpha=16,
        steps=30,
        epochs=1.5,
        batch_size=2,
        learning_rate=3e-3,
        estimated_seconds=12,
    )
    return LoraPlan.model_validate(values | changes)


def made_up_result(adapter: str, steps: int) -> LoraResult:
    return LoraResult(
        adapter=adapter,
        adapter_uri=f"test://adapters/{adapter}",
        plan=made_up_plan(adapter=adapter, steps=steps),
        steps_done=steps,
        seconds=0.1,
        eval_metric="perplexity",
        eval_loss_before=2.0,
        eval_loss_after=1.5,
        metric_before=7.39,
        metric_after=4.48,
        train_loss_first=2.0,
        train_loss_last=1.5,
        loss_curve=[],
    )
