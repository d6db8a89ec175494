"""The confirmation a person gives before lora_finetune trains: a form built from the plan.

A client that can show a form (form elicitation) is always asked, whatever `confirm` says: an LLM
must not be able to skip its user's confirmation. The form shows the plan (trainable parameters
and their share, steps) and lets the user change the step count and learning rate before accepting.
The question is a pure function of the request and the model, so it is worded identically on the
retry round of a 2026-07-28 call and on every replica, as the SDK requires to accept the answer. The
time estimate stays out of it: it is measured (one timed step) on whichever replica prepares the
job, so a retry round on another replica would word it differently and be asked again; it is in
the plan the result and job_status return.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context, Elicit
from pydantic import BaseModel, Field, create_model

from genai_mcp.tools import lora

__all__ = ["NotAsked", "answered", "can_elicit", "confirmation"]


class NotAsked(BaseModel):
    """The confirmation's value when no form was shown (the client cannot show one)."""


def can_elicit(ctx: Context[Any]) -> bool:
    # The SDK's own test (form support, or a bare capability from before modes existed).
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def confirmation(plan: lora.LoraPlan, max_steps: int) -> Elicit[Any]:
    """The question and its form; the form's defaults are this plan's values."""
    form = create_model(
        "LoraConfirmation",
        max_steps=(
            int,
            Field(
                plan.steps,
                ge=1,
                le=max_steps,
                description="Optimizer steps (change to train shorter or longer)",
            ),
        ),
        learning_rate=(float, Field(plan.learning_rate, gt=0, le=1, description="AdamW learning rate")),
    )
    return Elicit(_message(plan), form)


def _message(plan: lora.LoraPlan) -> str:
    share = f"{plan.trainable_share:.2%}"
    labels = f", classes {', '.join(plan.labels)}" if plan.labels else ""
    return (
        f"Fine-tune {plan.base_model} with LoRA ({plan.task}) and save adapter {plan.adapter!r}?\n"
        f"Trainable: {plan.trainable_params:,} of {plan.total_params:,} parameters ({share}; rank {plan.rank}, "
        f"alpha {plan.alpha:g}, modules {', '.join(plan.target_modules)}).\n"
        f"Data: {plan.train_examples} training and {plan.eval_examples} held-out examples{labels}.\n"
        f"{plan.steps} steps of batch {plan.batch_size} (about {plan.epochs:.3g} epochs) at learning rate "
        f"{plan.learning_rate:g}."
    )


def answered(form: BaseModel) -> tuple[int | None, float | None]:
    """(steps, learning rate) the user chose; (None, None) when no form was shown."""
    if isinstance(form, NotAsked):
        return None, None
    data: Any = form
    return data.max_steps, data.learning_rate
