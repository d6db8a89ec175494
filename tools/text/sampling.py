"""Picking the next token from a causal LM's last logits, as transformers' `generate` does.

Order (transformers' logits-processor order): repetition penalty on the raw logits; then greedy
argmax at temperature 0, or temperature, top-k, top-p and one draw from the caller's generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["Sampling", "next_token"]


@dataclass(frozen=True)
class Sampling:
    temperature: float  # 0 = greedy
    top_k: int  # 0 = off
    top_p: float  # 1 = off
    repetition_penalty: float  # 1 = off

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


def next_token(
    logits: torch.Tensor, ids: torch.Tensor, sampling: Sampling, generator: torch.Generator | None
) -> torch.Tensor:
    """The next token id, shape (1, 1), from `logits` (1, V) given the sequence so far `ids` (1, T)."""
    import torch

    if sampling.repetition_penalty != 1.0:
        logits = _penalize_repeats(logits, ids, sampling.repetition_penalty)
    if sampling.greedy:
        return torch.argmax(logits, dim=-1, keepdim=True)
    logits = logits / sampling.temperature
    if sampling.top_k > 0:
        logits = _top_k(logits, sampling.top_k)
    if sampling.top_p < 1.0:
        logits = _top_p(logits, sampling.top_p)
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator)


def _penalize_repeats(logits: torch.Tensor, ids: torch.Tensor, penalty: float) -> torch.Tensor:
    # CTRL's penalty: every token already in the sequence (prompt included) becomes less likely for
    # penalty > 1, whatever the sign of its logit.
    import torch

    seen = torch.gather(logits, 1, ids)  # (1, T)
    seen = torch.where(seen < 0, seen * penalty, seen / penalty)
    return logits.scatter(1, ids, seen)


def _top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    import torch

    kth = torch.topk(logits, min(k, logits.size(-1))).values[..., -1, None]  # (1, 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def _top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    # Keep the smallest set of most likely tokens whose probabilities add up to at least p (and
    # always the most likely one): drop, from the least likely up, tokens whose cumulative mass
    # stays within 1 - p.
    import torch

    sorted_logits, order = torch.sort(logits, descending=False)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    drop_sorted = cumulative <= (1 - p)
    drop_sorted[..., -1:] = False
    drop = drop_sorted.scatter(1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))
