"""Train the house latent-diffusion model (house/ldm-digits): a text-to-image Stable Diffusion of digits, on CPU.

    python scripts/train_ldm.py            # ~30 min on 2 shared cores; writes build/house-models/ldm-digits
    python scripts/train_ldm.py --overwrite-house   # replaces the shipped tools/house_models/ldm-digits
    python scripts/train_ldm.py --quick --out /tmp/ldm   # a few steps, seconds (tests)

Writes a StableDiffusionPipeline folder (model_index.json, vae/, text_encoder/, tokenizer/, unet/,
scheduler/): a small AutoencoderKL (16x16 RGB digits <-> 4x4x4 latents), the house CLIP's text tower
and tokenizer unchanged and frozen (tools/house_models/clip-digits, train it first), a cross-attention
UNet2DConditionModel (EMA weights) and a v-prediction DDIM scheduler (built in scripts/_ldm_layout.py).
Then the card's figures (scripts/_ldm_eval.py): prompt adherence judged by the house ViT and a pixel
3-NN, image-to-image adherence, VAE reconstruction error.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import _house_common as common
import _ldm_card
import _ldm_eval
import _ldm_layout
import train_clip

FOLDER = "ldm-digits"
SEED = 0
VAE: dict[str, Any] = {
    "block_out_channels": (32, 64, 64),
    "layers_per_block": 1,
    "latent_channels": 4,
    "norm_num_groups": 16,
    "steps": 2500,
    "batch_size": 64,
    "lr": 1e-3,
    "warmup_steps": 100,
    "kl_weight": 1e-4,
    "shift_px": 1,
    "loss": "MSE(decode(posterior sample), x) + kl_weight * KL (summed over latent elements, mean over batch)",
}
UNET: dict[str, Any] = {
    "sample_size": 4,
    "block_out_channels": (32, 64),
    "layers_per_block": 1,
    "attention_head_dim": 8,
    "norm_num_groups": 16,
    "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    "train_timesteps": 1000,
    "beta_schedule": "squaredcos_cap_v2",
    "prediction_type": "v_prediction",
    "steps": 2000,
    "batch_size": 64,
    "lr": 1e-3,
    "warmup_steps": 200,
    "ema_decay": 0.999,
    "ema_warmup": "decay = min(0.999, (1 + step) / (10 + step))",
    "unconditional_share": 0.1,
    "filler_variants_per_caption": 3,
    "latents": "posterior mean and std of the 9 one-pixel shifts of each training digit, a fresh sample per step",
}
COMMON: dict[str, Any] = {"schedule": "linear warm-up, then cosine decay to 0", "grad_clip": 1.0}
QUICK_STEPS = 3


def training_pixels(quick: bool) -> tuple[Any, Any]:
    """(N, 3, 16, 16) training digits in [-1, 1] and their labels (a few hundred with --quick)."""
    import numpy as np
    import torch

    from genai_mcp.tools.house.digits import digit_images

    images, labels = digit_images("train")
    if quick:
        images, labels = images[:256], labels[:256]
    x = torch.from_numpy(np.stack([np.asarray(im, dtype=np.float32) for im in images]) / 127.5 - 1.0)
    return x.permute(0, 3, 1, 2).contiguous(), torch.tensor(labels)


def optimizer_for(params: Any, lr: float, warmup: int, steps: int) -> tuple[Any, Any]:
    import torch

    optimizer = torch.optim.AdamW(params, lr=lr)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train_vae(vae: Any, x: Any, steps: int, generator: Any) -> float:
    import time

    import torch

    optimizer, schedule = optimizer_for(vae.parameters(), VAE["lr"], VAE["warmup_steps"], steps)
    vae.train()
    running, started = 0.0, time.perf_counter()
    for step in range(steps):
        batch = common.random_shift(
            x[torch.randint(0, len(x), (VAE["batch_size"],), generator=generator)],
            generator,
            VAE["shift_px"],
        )
        posterior = vae.encode(batch).latent_dist
        rec = vae.decode(posterior.sample(generator=generator)).sample
        loss: Any = torch.nn.functional.mse_loss(rec, batch) + VAE["kl_weight"] * posterior.kl().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), COMMON["grad_clip"])
        optimizer.step()
        schedule.step()
        running = 0.98 * running + 0.02 * float(loss.detach()) if step else float(loss.detach())
        if step % 100 == 99:
            print(
                f"vae step {step + 1}/{steps} loss {running:.5f} {time.perf_counter() - started:.0f} s",
                flush=True,
            )
    vae.eval().requires_grad_(False)
    return running


def shifted_latents(vae: Any, x: Any, labels: Any) -> tuple[Any, Any, Any]:
    """Posterior (mean, std, labels) of the 9 one-pixel shifts of each digit, encoded once."""
    import torch
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    padded = F.pad(x, (1, 1, 1, 1), value=-1.0)
    means, stds = [], []
    with torch.no_grad():
        for dy in range(3):
            for dx in range(3):
                posterior = vae.encode(padded[..., dy : dy + h, dx : dx + w]).latent_dist
                means.append(posterior.mean)
                stds.append(posterior.std)
    return torch.cat(means), torch.cat(stds), labels.repeat(9)


def caption_embeddings(text_encoder: Any, tokenizer: Any) -> tuple[Any, Any]:
    """(10, K, L, D) embeddings of K captions per digit and the (L, D) embedding of "", computed as
    the pipeline's encode_prompt does: padded to model_max_length, truncated, no attention mask."""
    import random

    import torch

    rng = random.Random(SEED)
    fillers = train_clip.filler_words()
    per_digit = []
    for d in range(10):
        texts = []
        for template in train_clip.TRAIN_TEMPLATES:
            texts.append(train_clip.caption(template, d))
            texts += [
                train_clip.noisy_caption(template, d, fillers, rng)
                for _ in range(UNET["filler_variants_per_caption"])
            ]
        per_digit.append(texts)

    def embed(texts: list[str]) -> Any:
        ids = tokenizer(
            texts,
            padding="max_length",
            max_length=tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids
        with torch.no_grad():
            return text_encoder(ids)[0]

    return torch.stack([embed(t) for t in per_digit]), embed([""])[0]


def train_unet(
    unet: Any, scheduler_config: Any, data: tuple[Any, ...], steps: int, generator: Any
) -> tuple[Any, float]:
    """The EMA copy of `unet` after `steps` v-prediction steps with 10 % unconditional captions."""
    import copy
    import time

    import torch
    from diffusers import DDPMScheduler

    means, stds, labels, captions, empty, scaling = data
    noise_cls: Any = DDPMScheduler
    noise_schedule = noise_cls.from_config(scheduler_config)
    ema = copy.deepcopy(unet).eval().requires_grad_(False)
    optimizer, schedule = optimizer_for(unet.parameters(), UNET["lr"], UNET["warmup_steps"], steps)
    batch, per_digit = UNET["batch_size"], captions.shape[1]
    running, started = 0.0, time.perf_counter()
    for step in range(steps):
        unet.train()
        idx = torch.randint(0, len(means), (batch,), generator=generator)
        z = (means[idx] + stds[idx] * torch.randn(means[idx].shape, generator=generator)) * scaling
        noise = torch.randn(z.shape, generator=generator)
        t = torch.randint(0, UNET["train_timesteps"], (batch,), generator=generator)
        text = captions[labels[idx], torch.randint(0, per_digit, (batch,), generator=generator)]
        drop = torch.rand(batch, generator=generator) < UNET["unconditional_share"]
        text = torch.where(drop[:, None, None], empty.expand_as(text), text)
        pred = unet(noise_schedule.add_noise(z, noise, t), t, encoder_hidden_states=text).sample
        loss: Any = torch.nn.functional.mse_loss(pred, noise_schedule.get_velocity(z, noise, t))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), COMMON["grad_clip"])
        optimizer.step()
        schedule.step()
        decay = min(UNET["ema_decay"], (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema.parameters(), unet.parameters(), strict=True):
                e.lerp_(p, 1 - decay)
        running = 0.98 * running + 0.02 * float(loss.detach()) if step else float(loss.detach())
        if step % 100 == 99:
            print(
                f"unet step {step + 1}/{steps} loss {running:.4f} {time.perf_counter() - started:.0f} s",
                flush=True,
            )
    return ema, running


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    common.add_common_args(parser, FOLDER)
    args = parser.parse_args()
    out = common.resolve_out(args, FOLDER)
    common.seed_everything(SEED, args.threads)

    import torch

    vae, text_encoder, tokenizer, unet, scheduler = _ldm_layout.build_components(VAE, UNET)
    generator = torch.Generator().manual_seed(SEED)
    x, labels = training_pixels(args.quick)
    vae_steps = QUICK_STEPS if args.quick else VAE["steps"]
    unet_steps = QUICK_STEPS if args.quick else UNET["steps"]
    with common.stopwatch() as vae_time:
        vae_loss = train_vae(vae, x, vae_steps, generator)
        means, stds, latent_labels = shifted_latents(vae, x, labels)
        # Unit-variance latents for the UNet, as Stable Diffusion's 0.18215; the pipeline reads it back.
        scaling = 1.0 / float((means + stds * torch.randn(means.shape, generator=generator)).std())
        vae.register_to_config(scaling_factor=scaling)
    with common.stopwatch() as unet_time:
        captions, empty = caption_embeddings(text_encoder, tokenizer)
        data = (means, stds, latent_labels, captions, empty, scaling)
        ema, unet_loss = train_unet(unet, scheduler.config, data, unet_steps, generator)
    _ldm_layout.save(out, vae, text_encoder, tokenizer, ema, scheduler)
    print(f"saved {out}; measuring", flush=True)

    metrics = {
        **_ldm_eval.measure(out, args.quick),
        "vae_steps": vae_steps,
        "unet_steps": unet_steps,
        "vae_final_loss_smoothed": round(vae_loss, 5),
        "unet_final_loss_smoothed": round(unet_loss, 4),
        "vae_train_seconds": round(vae_time["seconds"], 1),
        "unet_train_seconds": round(unet_time["seconds"], 1),
        "scaling_factor": round(scaling, 4),
        "parameters": {
            "vae": sum(p.numel() for p in vae.parameters()),
            "text_encoder": sum(p.numel() for p in text_encoder.parameters()),
            "unet": sum(p.numel() for p in ema.parameters()),
        },
        "weights_bytes": common.weights_bytes(out),
        "folder_bytes": common.folder_bytes(out),
        "seed": SEED,
        "quick": args.quick,
        "command": common.command_line(),
        "hyperparameters": {"vae": VAE, "unet": UNET, **COMMON},
        "environment": common.environment(),
    }
    common.write_metrics(out, metrics)
    _ldm_card.write_card(out, json.loads((out / "metrics.json").read_text(encoding="utf-8")))
    print(f"wrote {out}: {json.dumps(metrics['figures'])}", flush=True)


if __name__ == "__main__":
    main()
