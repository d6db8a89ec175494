"""Classifier heads: which labels a model's head has, and giving it a fresh one for new labels.

Training an image adapter (tools.lora) and loading one back (adapted.py) decide through here, so
an adapter is always loaded onto a model with the head shape it was trained on. torch is imported
inside the functions.
"""

from __future__ import annotations

from typing import Any

from genai_mcp.tools.errors import InvalidInputError

__all__ = ["base_labels", "head_name", "keeps_head", "set_head"]


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
