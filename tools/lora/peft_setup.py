"""How a base model gets its LoRA: target modules per architecture, the classifier head, the peft config.

Training (train.py) and loading (inference.py) both go through here, so an adapter is always loaded
onto a model of the shape it was trained on. torch, transformers and peft are imported inside.

Default target modules, first match wins: q_proj + v_proj (transformers 5 ViT, Llama-style),
query + value (BERT-style), c_attn + c_proj (GPT-2, whose Conv1D stores weights transposed, hence
fan_in_fan_out=True). Image classifiers also train and save their classifier layer
(peft modules_to_save); it is replaced by a fresh one when the dataset's labels are not all
among the base model's.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from genai_mcp.tools.errors import InvalidInputError

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


def base_labels(model: Any) -> list[str]:
    """The classifier's label names in id order (LABEL_<i> where the config names none)."""
    id2label = getattr(model.config, "id2label", None) or {}
    n = int(getattr(model.config, "num_labels", len(id2label)))
    return [str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(n)]


def keeps_head(model: Any, labels: list[str]) -> bool:
    """True when every dataset label is already a class of the base model (its head is reused)."""
    return set(labels) <= set(base_labels(model))


def head_name(model: Any, model_id: str) -> str:
    """The module name of the classifier layer: the last Linear with one output per class."""
    import torch

    n = int(getattr(model.config, "num_labels", 0))
    heads: list[str] = [
        name
        for name, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and m.out_features == n and name
    ]
    if not heads:
        raise InvalidInputError(
            f"{model_id} has no linear classifier layer with {n} outputs, so its head cannot be adapted"
        )
    return heads[-1]


def set_head(model: Any, labels: list[str], model_id: str) -> str:
    """Replace the classifier with a fresh Linear for `labels` (the caller seeds torch first) and
    update the config's label maps; the head's module name."""
    import torch

    name = head_name(model, model_id)
    parent_name, _, attr = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    old = getattr(parent, attr)
    head = torch.nn.Linear(old.in_features, len(labels), bias=old.bias is not None)
    std = float(getattr(model.config, "initializer_range", 0.02) or 0.02)
    torch.nn.init.normal_(head.weight, std=std)
    if head.bias is not None:
        torch.nn.init.zeros_(head.bias)
    setattr(parent, attr, head.to(device=old.weight.device, dtype=old.weight.dtype))
    model.config.id2label = dict(enumerate(labels))
    model.config.label2id = {label: i for i, label in enumerate(labels)}
    model.config.num_labels = len(labels)
    return name


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


@contextmanager
def peft_warnings_silenced() -> Iterator[None]:
    """Around peft calls: peft 0.21 reads `is_gradient_checkpointing`, which transformers 5 deprecates
    with a FutureWarning on every wrap; nothing for our callers to act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning
        )
        yield
