"""A LoraResult with made-up figures, for tests of the job machinery (no training runs)."""

from __future__ import annotations

from genai_mcp.tools.lora import LoraPlan, LoraResult

__all__ = ["made_up_result"]


def made_up_result(adapter: str, steps: int) -> LoraResult:
    plan = LoraPlan(
        task="causal-lm",
        base_model="house/gpt2-pydocs",
        adapter=adapter,
        train_examples=4,
        eval_examples=1,
        trainable_params=10,
        total_params=100,
        trainable_share=0.1,
        target_modules=["c_attn"],
        rank=8,
        alpha=16,
        steps=steps,
        epochs=1,
        batch_size=2,
        learning_rate=3e-3,
        estimated_seconds=1,
    )
    return LoraResult(
        adapter=adapter,
        adapter_uri=f"test://adapters/{adapter}",
        plan=plan,
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
