"""How a base model gets its LoRA: target modules per architecture, the classifier head, the peft config.

Training (train.py) comes here; the head helpers (base_labels, keeps_head, head_name, set_head) and
peft_warnings_silenced live in the model runtime (tools.models.heads, tools.models.adapted), which
loading an adapter back goes through too, so an adapter is always loaded onto a model of the shape
it was trained on. torch, transformers and peft are imported inside.

Default target modules, first match wins: q_proj + v_proj (transformers 5 ViT, Llama-style),
query + value (BERT-style), c_attn + c_proj (GPT-2, whose Conv1D stores weights transposed, hence
fan_in_fan_out=True). Image classifiers also train and save their classifier layer
(peft modules_to_save); it is replaced by a fresh one when the dataset's labels are not all
among the base model's.
"""

from __future__ import annotations

from typing import Any

from genai_mcp.tools.errors import InvalidInputError
from genai_mcp.tools.models.adapted import peft_warnings_silenced
from genai_mcp.tools.models.heads import base_labels, head_name, keeps_head, set_head

__all__ = [
    "DEFAULT_TARGETS",
    "base_labels",
    "head_name",
    "keeps_head",
    "lora_config",
    "peft_warnings_silenced",
    "resolve_targets",
    "set_head",
]

DEFAULT_TARGETS: tuple[tuple[str, ...], ...] = (
    ("q_proj", "v_proj"),
    ("query", "value"),
    ("c_attn", "c_proj"),
)
_SHOW = 12  # module names quoted in an error


def _adaptable(model: Any) -> dict[str, Any]:
    """Full name -> module, for every layer LoRA can wrap here (nn.Linear and GPT-2's Conv1D)."""
    import torch
    from transformers.pytorch_utils import Conv1D

    return {name: m for name, m in model.named_modules() if name and isinstance(m, torch.nn.Linear | Conv1D)}


def _matches(full: str, key: str) -> bool:
    return full == key or full.endswith("." + key)  # peft's own rule for a list of names


def resolve_targets(model: Any, requested: list[str] | None, model_id: str) -> tuple[list[str], bool]:
    """(target module names, fan_in_fan_out). InvalidInputError when a requested name matches no
    layer, or when no default applies; both name the layers there are."""
    from transformers.pytorch_utils import Conv1D

    layers = _adaptable(model)
    suffixes = sorted({name.rsplit(".", 1)[-1] for name in layers})
    shown = ", ".join(suffixes[:_SHOW]) + (" ..." if len(suffixes) > _SHOW else "")
    if requested:
        targets = list(dict.fromkeys(requested))
        missing = [t for t in targets if not any(_matches(name, t) for name in layers)]
        if missing:
            raise InvalidInputError(
                f"target_modules {missing} match no linear layer of {model_id}; its linear layers are "
                f"named: {shown}"
            )
    else:
        for candidate in DEFAULT_TARGETS:
            if all(any(_matches(name, t) for name in layers) for t in candidate):
                targets = list(candidate)
                break
        else:
            raise InvalidInputError(
                f"no default LoRA target modules for {model_id} (looked for q_proj/v_proj, query/value, "
                f"c_attn); pass target_modules, e.g. from its linear layers: {shown}"
            )
    chosen = [m for name, m in layers.items() if any(_matches(name, t) for t in targets)]
    return targets, all(isinstance(m, Conv1D) for m in chosen)


def lora_config(
    *,
    rank: int,
    alpha: float,
    dropout: float,
    targets: list[str],
    fan_in_fan_out: bool,
    modules_to_save: list[str] | None,
) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=rank,
        lora_alpha=alpha,  # type: ignore[arg-type]  # annotated int; peft scales by alpha / r either way
        lora_dropout=dropout,
        target_modules=targets,
        fan_in_fan_out=fan_in_fan_out,
        modules_to_save=modules_to_save,
        bias="none",
    )
