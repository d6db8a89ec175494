"""Train the house ViT digit classifier (house/vit-digits) on scikit-learn's digits, on CPU.

    python scripts/train_vit.py            # ~2.5 min on 2 cores; writes build/house-models/vit-digits
    python scripts/train_vit.py --overwrite-house   # replaces the shipped tools/house_models/vit-digits
    python scripts/train_vit.py --quick --out /tmp/vit   # a few steps, seconds (tests)

Writes a save_pretrained folder (model.safetensors, config.json, preprocessor_config.json), a model
card README.md and metrics.json. Every image goes through the saved ViTImageProcessor, so inference on
any size of PNG (8x8, 64x64, ...) is resized to 16x16 exactly as in training.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import _house_common as common

FOLDER = "vit-digits"
SEED = 0
HPARAMS: dict[str, Any] = {
    "image_size": 16,
    "patch_size": 4,
    "hidden_size": 64,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "intermediate_size": 128,
    "dropout": 0.1,
    "epochs": 100,
    "batch_size": 64,
    "lr": 2e-3,
    "weight_decay": 0.05,
    "schedule": "OneCycle (cosine, 10 % warm-up)",
    "augmentation": "random shifts of up to 2 px (padding with background)",
}
QUICK_EPOCHS = 1
QUICK_IMAGES = 192  # 3 batches: a quick run checks the plumbing, not the accuracy


def build_processor() -> Any:
    from transformers import ViTImageProcessorPil

    # The PIL processor, named directly: the generic name falls back to it without torchvision and logs
    # a warning. do_convert_rgb lets grey or RGBA uploads through; mean/std 0.5 map [0, 255] to [-1, 1].
    return ViTImageProcessorPil(
        size={"height": HPARAMS["image_size"], "width": HPARAMS["image_size"]},
        resample=2,  # bilinear, as digit_images upscales
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
        do_convert_rgb=True,
    )


def build_model() -> Any:
    from transformers import ViTConfig, ViTForImageClassification

    from genai_mcp.tools.house.digits import DIGIT_NAMES

    config = ViTConfig(
        image_size=HPARAMS["image_size"],
        patch_size=HPARAMS["patch_size"],
        num_channels=3,
        hidden_size=HPARAMS["hidden_size"],
        num_hidden_layers=HPARAMS["num_hidden_layers"],
        num_attention_heads=HPARAMS["num_attention_heads"],
        intermediate_size=HPARAMS["intermediate_size"],
        hidden_dropout_prob=HPARAMS["dropout"],
        attention_probs_dropout_prob=HPARAMS["dropout"],
        id2label={i: str(i) for i in range(len(DIGIT_NAMES))},
        label2id={str(i): i for i in range(len(DIGIT_NAMES))},
    )
    return ViTForImageClassification(config)


def accuracy(model: Any, processor: Any, images: list[Any], labels: list[int]) -> float:
    import torch

    model.eval()
    with torch.no_grad():
        pixels = processor(images=images, return_tensors="pt")["pixel_values"]
        predicted = model(pixel_values=pixels).logits.argmax(-1)
    return float((predicted == torch.tensor(labels)).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    common.add_common_args(parser, FOLDER)
    args = parser.parse_args()
    out = common.resolve_out(args, FOLDER)
    common.seed_everything(SEED, args.threads)

    import torch
    from PIL import Image

    from genai_mcp.tools.house.digits import digit_images

    processor = build_processor()
    model = build_model()
    train_images, train_labels = digit_images("train")
    test_images, test_labels = digit_images("test")
    if args.quick:
        train_images, train_labels = train_images[:QUICK_IMAGES], train_labels[:QUICK_IMAGES]
    x = processor(images=train_images, return_tensors="pt")["pixel_values"]
    y = torch.tensor(train_labels)
    epochs = QUICK_EPOCHS if args.quick else HPARAMS["epochs"]
    batch = HPARAMS["batch_size"]
    steps_per_epoch = math.ceil(len(y) / batch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=HPARAMS["lr"], weight_decay=HPARAMS["weight_decay"])
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=HPARAMS["lr"], total_steps=epochs * steps_per_epoch, pct_start=0.1
    )
    generator = torch.Generator().manual_seed(SEED)

    with common.stopwatch() as timer:
        for epoch in range(epochs):
            model.train()
            order = torch.randperm(len(y), generator=generator)
            total = 0.0
            for start in range(0, len(y), batch):
                idx = order[start : start + batch]
                logits = model(pixel_values=common.random_shift(x[idx], generator)).logits
                loss: Any = torch.nn.functional.cross_entropy(logits, y[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                total += float(loss.detach()) * len(idx)
            if epoch % 10 == 9 or epoch == epochs - 1:
                acc = accuracy(model, processor, test_images, test_labels)
                print(
                    f"epoch {epoch + 1}/{epochs} loss {total / len(y):.4f} held-out acc {acc:.4f}", flush=True
                )

    model.eval()
    model.save_pretrained(out)
    processor.save_pretrained(out)

    # Robustness of the processor path: the same held-out digits as 64x64 PNGs (nearest upscale).
    big = [im.resize((64, 64), Image.Resampling.NEAREST) for im in test_images]
    metrics = {
        "held_out_accuracy": round(accuracy(model, processor, test_images, test_labels), 4),
        "held_out_accuracy_64px_inputs": round(accuracy(model, processor, big, test_labels), 4),
        "held_out_images": len(test_labels),
        "train_accuracy": round(accuracy(model, processor, train_images, train_labels), 4),
        "epochs": epochs,
        "steps": epochs * steps_per_epoch,
        "train_seconds": round(timer["seconds"], 1),
        "parameters": sum(p.numel() for p in model.parameters()),
        "weights_bytes": common.weights_bytes(out),
        "seed": SEED,
        "quick": args.quick,
        "command": common.command_line(),
        "hyperparameters": HPARAMS,
        "environment": common.environment(),
    }
    common.write_metrics(out, metrics)
    write_card(out, metrics)
    print(f"wrote {out}: held-out accuracy {metrics['held_out_accuracy']:.4f}", flush=True)


def write_card(out: Any, m: dict[str, Any]) -> None:
    hp = "\n".join(f"- {k}: {v}" for k, v in m["hyperparameters"].items())
    common.write_model_card(
        out,
        "house/vit-digits: a tiny ViT that reads handwritten digits",
        {
            "Model": (
                f"`ViTForImageClassification` (transformers), {m['parameters']:,} parameters, trained from "
                "scratch. Input: 16x16 RGB through the saved `ViTImageProcessor` (resize to 16x16 bilinear, "
                "grey/RGBA converted to RGB, scaled to [-1, 1]); output: 10 labels '0'-'9'. Digits are "
                "bright ink on a dark background, as in the training data; dark-on-light images need "
                "inverting first."
            ),
            "Data": common.DIGITS_DATA_SECTION,
            "Training": (
                common.retraining_text(FOLDER, m["command"]) + "\n\n"
                f"Seed {m['seed']}; {m['epochs']} epochs, {m['steps']} optimizer steps; "
                f"training time {m['train_seconds']} s on CPU, one torch thread "
                f"(2 cores shared with other work).\n\n{hp}\n\nEnvironment:\n\n"
                + common.environment_text(m["environment"])
            ),
            "Results (held-out, 360 images)": (
                f"- accuracy: {m['held_out_accuracy']:.2%}\n"
                "- accuracy when the same digits arrive as 64x64 PNGs: "
                f"{m['held_out_accuracy_64px_inputs']:.2%}\n"
                f"- training-set accuracy: {m['train_accuracy']:.2%}"
            ),
            "Size": f"{common.human_bytes(m['weights_bytes'])} of weights (float32 safetensors).",
            "License": common.DIGITS_LICENSE_SECTION,
            "Limits": (
                "Trained on 1437 small, centred, pre-normalised digits from 43 writers: expect mistakes on "
                "photos, off-centre or thin-stroked digits and anything that is not a single digit."
            ),
        },
        metadata={
            "license": "apache-2.0",
            "library_name": "transformers",
            "pipeline_tag": "image-classification",
            "tags": ["vit", "digits", "genai-mcp-house"],
        },
    )


if __name__ == "__main__":
    main()
