"""Training and held-out examples as tensors, their loss, and held-out evaluation.

Causal LM: the passages of a split are tokenized with the base tokenizer, joined with an eos after
each, and cut into blocks of min(128, context) tokens. Training keeps whole blocks only (one shorter
block if the split has fewer tokens than a block); held-out keeps the short tail too, so every
held-out token after a block's first is scored. Loss: the mean next-token cross-entropy (nats).

Image classification: images go through the base model's own processor (the one classification
uses), so the adapter sees exactly what inference will. Loss: cross-entropy over the head's classes;
the metric is accuracy. torch is imported inside.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from genai_mcp.tools.errors import InvalidInputError
from genai_mcp.tools.text.lm import context_length, encode

if TYPE_CHECKING:
    import torch
    from PIL.Image import Image

__all__ = ["MAX_BLOCK", "ImageExamples", "TextExamples", "evaluate", "loss_of", "shuffled_batches"]

MAX_BLOCK = 128  # tokens per training sequence: short data, tiny models, two CPU cores
_CACHE_PIXEL_BYTES = 256 * 2**20  # preprocess every image once when the tensors fit in this


@dataclass
class TextExamples:
    train: torch.Tensor  # (N, L) token ids
    eval: list[torch.Tensor]  # blocks of equal length grouped: [(M, L), (1, T) tail]
    block: int

    @classmethod
    def build(cls, tokenizer: Any, model: Any, train: list[str], held_out: list[str]) -> TextExamples:
        block = min(MAX_BLOCK, context_length(model) or MAX_BLOCK)
        eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else model.config.eos_token_id
        device = next(model.parameters()).device
        train_ids, eval_ids = _ids(tokenizer, train, eos), _ids(tokenizer, held_out, eos)
        if len(train_ids) < 2 or len(eval_ids) < 2:
            split = "training" if len(train_ids) < 2 else "held-out"
            raise InvalidInputError(
                f"the {split} split has under 2 tokens of text: give longer passages or more of them"
            )
        full = len(train_ids) // block
        rows = [train_ids[i * block : (i + 1) * block] for i in range(full)] or [train_ids]
        groups = []
        if len(eval_ids) >= block:
            n = len(eval_ids) // block
            groups.append([eval_ids[i * block : (i + 1) * block] for i in range(n)])
        tail = eval_ids[(len(eval_ids) // block) * block :]
        if len(tail) >= 2:
            groups.append([tail])
        return cls(
            train=_long(rows, device),
            eval=[_long(g, device) for g in groups],
            block=block,
        )

    @property
    def n_train(self) -> int:
        return int(self.train.shape[0])

    @property
    def n_eval(self) -> int:
        return sum(int(g.shape[0]) for g in self.eval)

    def train_batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.train[idx], None

    def eval_batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, None]]:
        for group in self.eval:
            for i in range(0, group.shape[0], batch_size):
                yield group[i : i + batch_size], None


@dataclass
class ImageExamples:
    train_images: list[Image]
    train_labels: torch.Tensor  # (N,) class ids of the head
    eval_images: list[Image]
    eval_labels: torch.Tensor
    processor: Any
    device: Any
    dtype: Any
    _cache: dict[str, torch.Tensor]

    @classmethod
    def build(
        cls,
        processor: Any,
        model: Any,
        train: list[tuple[Image, str]],
        held_out: list[tuple[Image, str]],
        label_ids: dict[str, int],
    ) -> ImageExamples:
        import torch

        p = next(model.parameters())
        ex = cls(
            [im for im, _ in train],
            torch.tensor([label_ids[lb] for _, lb in train], device=p.device),
            [im for im, _ in held_out],
            torch.tensor([label_ids[lb] for _, lb in held_out], device=p.device),
            processor,
            p.device,
            p.dtype,
            {},
        )
        first = ex._pixels(ex.train_images[:1])  # (1, C, H, W)
        if first.numel() * first.element_size() * (len(train) + len(held_out)) <= _CACHE_PIXEL_BYTES:
            ex._cache = {"train": ex._pixels(ex.train_images), "eval": ex._pixels(ex.eval_images)}
        return ex

    @property
    def n_train(self) -> int:
        return len(self.train_images)

    @property
    def n_eval(self) -> int:
        return len(self.eval_images)

    def _pixels(self, images: list[Image]) -> torch.Tensor:
        pixels = self.processor(images=images, return_tensors="pt")["pixel_values"]
        return pixels.to(self.device, dtype=self.dtype)  # type: ignore[no-any-return]

    def train_batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if "train" in self._cache:
            return self._cache["train"][idx], self.train_labels[idx]
        return self._pixels([self.train_images[i] for i in idx.tolist()]), self.train_labels[idx]

    def eval_batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for i in range(0, self.n_eval, batch_size):
            y = self.eval_labels[i : i + batch_size]
            if "eval" in self._cache:
                yield self._cache["eval"][i : i + batch_size], y
            else:
                yield self._pixels(self.eval_images[i : i + batch_size]), y


Examples = TextExamples | ImageExamples


def loss_of(model: Any, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, int, int]:
    """(summed loss over the batch's scored targets, how many, how many the argmax got right)."""
    import torch
    import torch.nn.functional as F

    if y is None:  # causal LM: position t predicts token t + 1
        # An explicit all-ones mask: blocks hold eos tokens, which GPT-2 also uses as padding.
        mask = torch.ones_like(x)
        logits = (
            model(input_ids=x, attention_mask=mask, use_cache=False).logits[:, :-1].float()
        )  # (B, L-1, V)
        targets = x[:, 1:]
        total = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="sum")
        return total, targets.numel(), 0
    logits = model(pixel_values=x).logits.float()  # (B, classes)
    total = F.cross_entropy(logits, y, reduction="sum")
    return total, int(y.numel()), int((logits.argmax(-1) == y).sum().item())


def evaluate(
    model: Any, examples: Examples, batch_size: int, between: Callable[[], None] | None = None
) -> tuple[float, float]:
    """(mean held-out loss in nats, metric): perplexity exp(loss) for text, accuracy 0-1 for images.

    `between()` runs before each batch; it may raise (WorkCancelledError) to stop a long evaluation.
    """
    import torch

    model.eval()
    total, count, correct = 0.0, 0, 0
    with torch.no_grad():
        for x, y in examples.eval_batches(batch_size):
            if between is not None:
                between()
            t, n, c = loss_of(model, x, y)
            total, count, correct = total + float(t.item()), count + n, correct + c
    mean = total / max(count, 1)
    if isinstance(examples, TextExamples):
        return mean, math.exp(min(mean, 700.0))
    return mean, correct / max(count, 1)


def shuffled_batches(n: int, batch: int, seed: int) -> Iterator[torch.Tensor]:
    """Index batches of `batch` drawn from a fresh seeded permutation each epoch (spanning epochs)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    pending = torch.empty(0, dtype=torch.long)
    while True:
        while pending.numel() < batch:
            pending = torch.cat([pending, torch.randperm(n, generator=generator)])
        yield pending[:batch]
        pending = pending[batch:]


def _ids(tokenizer: Any, passages: list[str], eos: int | None) -> list[int]:
    ids: list[int] = []
    for text in passages:
        ids.extend(encode(tokenizer, text, special_tokens=False))
        if eos is not None:
            ids.append(int(eos))
    return ids


def _long(rows: list[list[int]], device: Any) -> torch.Tensor:
    import torch

    return torch.tensor(rows, dtype=torch.long, device=device)
