"""Request and result models for LoRA fine-tuning, its jobs, and the adapters it saves.

Import-light on purpose (pydantic only): the server builds its tool schemas from these at start-up.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from genai_mcp.tools.models.adapted import ADAPTER_NAME_PATTERN, AdapterName, AdapterRef

__all__ = [
    "ADAPTER_NAME_PATTERN",
    "AdapterInfo",
    "AdapterName",
    "AdapterRef",
    "EvalMetric",
    "JobInfo",
    "JobState",
    "LabelledImage",
    "LoraPlan",
    "LoraRequest",
    "LoraResult",
    "LoraTask",
    "LossPoint",
    "utc_now",
]

LoraTask = Literal["causal-lm", "image-classification"]
EvalMetric = Literal["perplexity", "accuracy"]
JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]

MAX_LABEL_CHARS = 100


class LabelledImage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image: str = Field(
        min_length=1,
        description=(
            "An image: a path under the server's roots, a data: URI, base64, or a genai-mcp://outputs/ URI"
        ),
    )
    label: str = Field(min_length=1, max_length=MAX_LABEL_CHARS, description="Its class name.")


class LoraRequest(BaseModel):
    """One fine-tuning job. Defaults follow what trained well on the house models."""

    model_config = ConfigDict(extra="forbid")

    task: LoraTask = Field(
        description="causal-lm (adapt a text generator) or image-classification (adapt an image classifier)."
    )
    dataset: list[str] | list[LabelledImage] | str = Field(
        description=(
            "Inline: a list of texts (causal-lm) or a list of {image, label} (image-classification). "
            "Or a path under the server's roots: a .txt file (passages separated by blank lines) or a "
            '.jsonl file (one {"text": ...} per line) for causal-lm; a folder with one subfolder of '
            "images per class for image-classification."
        )
    )
    base_model: str | None = Field(
        None,
        description=(
            "Checkpoint to adapt: a house model, a local directory or a cached hub id; null for the "
            "{models.lora_about}."
        ),
    )
    name: AdapterName | None = Field(
        None, description="Name to save the adapter under (must be new); null: derived from task and time."
    )
    rank: int = Field(8, ge=1, description="LoRA rank r of the update A·B.")
    alpha: float = Field(
        16.0, gt=0, description="LoRA scaling numerator: the update is scaled by alpha / rank."
    )
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA branch during training.")
    target_modules: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        None,
        max_length=32,
        description=(
            "Module names to adapt; null for the architecture's default (GPT-2: c_attn, c_proj; ViT: q_proj, "
            "v_proj; otherwise the attention projections found in the model)."
        ),
    )
    max_steps: int | None = Field(None, ge=1, description="Optimizer steps; overrides epochs when set.")
    epochs: float | None = Field(
        None,
        gt=0,
        le=1000,
        description=(
            "Passes over the training split when max_steps is null. Default: 3 epochs but at least 50 steps "
            "(for causal-lm an example is a block of up to 128 tokens, so a small text set makes few steps "
            "per epoch)."
        ),
    )
    learning_rate: float | None = Field(
        None,
        gt=0,
        le=1,
        description="AdamW peak learning rate; null for the task default (causal-lm 3e-3, image-classification 1e-2).",
    )
    batch_size: int = Field(8, ge=1, description="Examples per optimizer step.")
    eval_fraction: float = Field(
        0.2, gt=0, lt=1, description="Share of the dataset held out to measure loss and the metric."
    )
    seed: int = Field(0, ge=0, description="Seed for the split, the LoRA initialisation and shuffling.")

    @model_validator(mode="after")
    def _steps_or_epochs(self) -> LoraRequest:
        if self.max_steps is not None and self.epochs is not None:
            raise ValueError("give max_steps or epochs, not both")
        return self


class LoraPlan(BaseModel):
    """What a job will do; shown to the user for confirmation before training starts."""

    task: LoraTask
    base_model: str = Field(description="The resolved checkpoint being adapted.")
    adapter: str = Field(description="The name the adapter will be saved under.")
    train_examples: int = Field(description="Texts/passages or images in the training split.")
    eval_examples: int = Field(description="Held out for loss and metric.")
    labels: list[str] | None = Field(None, description="Class names (image-classification).")
    trainable_params: int = Field(description="Parameters LoRA trains (plus a new classifier head if any).")
    total_params: int = Field(description="All parameters of the adapted model.")
    trainable_share: float = Field(description="trainable_params / total_params, 0-1.")
    target_modules: list[str]
    rank: int
    alpha: float
    steps: int = Field(description="Optimizer steps that will run.")
    epochs: float = Field(description="Passes over the training split those steps make.")
    batch_size: int
    learning_rate: float
    estimated_seconds: float = Field(
        description="Estimated training time, from a timed step on this machine."
    )


class LossPoint(BaseModel):
    step: int
    loss: float


class LoraResult(BaseModel):
    adapter: str = Field(description="Name to pass as `adapter` to generate_text / classify_image.")
    adapter_uri: str = Field(description="adapters://<name>: the adapter's card as an MCP resource.")
    plan: LoraPlan
    steps_done: int
    seconds: float = Field(description="Wall time of training, evaluation and saving.")
    eval_metric: EvalMetric = Field(description="perplexity (causal-lm, lower is better) or accuracy (0-1).")
    eval_loss_before: float = Field(description="Mean held-out loss (nats) before training.")
    eval_loss_after: float = Field(description="Mean held-out loss (nats) after training.")
    metric_before: float
    metric_after: float
    train_loss_first: float = Field(description="Training loss of the first step.")
    train_loss_last: float = Field(description="Mean training loss over the last 10% of steps.")
    loss_curve: list[LossPoint] = Field(description="Training loss per step (thinned to at most 200 points).")


class AdapterInfo(BaseModel):
    """An adapter on disk, as listed and as stored next to its weights (genai_mcp.json)."""

    name: str
    task: LoraTask
    base_model: str
    created: str = Field(description="UTC time the adapter was saved, ISO 8601.")
    rank: int
    alpha: float
    target_modules: list[str]
    trainable_params: int
    labels: list[str] | None = None
    eval_metric: EvalMetric
    metric_before: float
    metric_after: float
    steps: int
    train_examples: int
    size_bytes: int = 0


class JobInfo(BaseModel):
    """A fine-tuning job as job_status / list_jobs / lora_finetune report it."""

    job_id: str
    state: JobState
    adapter: str = Field(description="The adapter this job saves (or would have saved).")
    task: LoraTask
    queue_position: int | None = Field(None, description="Jobs ahead of this one while queued.")
    step: int = Field(0, description="Optimizer steps done.")
    total_steps: int | None = None
    loss: float | None = Field(None, description="Latest training loss.")
    loss_curve: list[LossPoint] = Field(default_factory=list)
    eval_metric: EvalMetric | None = None
    metric_before: float | None = None
    metric_after: float | None = None
    created: str
    started: str | None = None
    finished: str | None = None
    elapsed_seconds: float | None = None
    error: str | None = Field(None, description="Why the job failed or was cancelled.")
    result: LoraResult | None = Field(None, description="Set once the job succeeded.")


def utc_now() -> str:
    """Now, as job records and adapter cards keep times: ISO 8601 UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")
