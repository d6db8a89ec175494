"""Train the house CLIP (house/clip-digits) on scikit-learn's digits and caption templates, on CPU.

    python scripts/train_clip.py           # ~2-3 min on 2 cores; writes build/house-models/clip-digits
    python scripts/train_clip.py --overwrite-house  # replaces the shipped tools/house_models/clip-digits
    python scripts/train_clip.py --quick --out /tmp/clip   # a few steps, seconds (tests)

The tokenizer is a CLIPTokenizer whose BPE merges are learnt here, deterministically, from the training
captions, over all 256 byte symbols (so any text tokenizes without unknown tokens). Writes a save_pretrained folder (model.safetensors,
config.json, processor_config.json, tokenizer.json, tokenizer_config.json), a model card README.md and
metrics.json. The score: zero-shot accuracy on the 360 held-out digits, with one prompt per digit
built from a caption template, both seen in training and never seen.
"""

from __future__ import annotations

import argparse
import itertools
import random
from typing import Any

import _house_common as common

FOLDER = "clip-digits"
SEED = 0
# {name} is "zero".."nine", {digit} is "0".."9".
TRAIN_TEMPLATES = (
    "a photo of the digit {name}",
    "a photo of a {digit}",
    "a handwritten {digit}",
    "a handwritten {name}",
    "the number {name}",
    "a picture of a {name}",
    "an image of the digit {digit}",
    "{name}",
)
UNSEEN_TEMPLATES = (
    "a drawing of the number {name}",
    "a blurry photo of a {digit}",
    "this is a {name}",
)
HPARAMS: dict[str, Any] = {
    "image_size": 16,
    "patch_size": 4,
    "vision_hidden_size": 64,
    "vision_layers": 3,
    "text_hidden_size": 64,
    "text_layers": 3,
    "attention_heads": 4,
    "intermediate_size": 128,
    "max_position_embeddings": 32,
    "projection_dim": 64,
    "tokenizer": "byte-level BPE learnt from the training captions (every caption word one token)",
    "steps": 1500,
    "batch_size": 128,
    "lr": 1e-3,
    "weight_decay": 0.05,
    "schedule": "OneCycle (cosine, 10 % warm-up)",
    "loss": "symmetric contrastive loss; every pair of the same digit counts as a positive",
    "augmentation": (
        "random shifts of up to 2 px (padding with background); 0-2 filler words (from scikit-learn's "
        "data set descriptions) inserted at random places in each caption, so that words the "
        "tokenizer never saw do not throw the text tower"
    ),
    "filler_words_per_caption": "0, 0, 1 or 2, equally likely",
}
QUICK_STEPS = 3


def caption(template: str, label: int) -> str:
    from genai_mcp.tools.house.digits import DIGIT_NAMES

    return template.format(name=DIGIT_NAMES[label], digit=str(label))


def learn_bpe(words: dict[str, int]) -> list[tuple[str, str]]:
    """BPE merges learnt from word counts until no pair occurs twice; ties go to the smallest pair.

    Written out rather than using the tokenizers trainer, whose order among equally frequent pairs
    changes from run to run (and with it the model trained on top).
    """
    splits = {w: [*w[:-1], w[-1] + "</w>"] for w in words}
    merges: list[tuple[str, str]] = []
    while True:
        pairs: dict[tuple[str, str], int] = {}
        for w, parts in splits.items():
            for pair in itertools.pairwise(parts):
                pairs[pair] = pairs.get(pair, 0) + words[w]
        if not pairs:
            return merges
        best, count = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        if count < 2:
            return merges
        merges.append(best)
        for w, parts in splits.items():
            merged, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and (parts[i], parts[i + 1]) == best:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            splits[w] = merged


def build_tokenizer() -> Any:
    """A CLIPTokenizer whose vocabulary is the 256 byte symbols (alone and word-final) plus BPE merges
    learnt from the training captions: caption words are single tokens, any other text splits into
    pieces and never into the unknown token (which CLIP shares with end-of-text)."""
    from tokenizers import pre_tokenizers
    from transformers import CLIPTokenizer

    base: Any = CLIPTokenizer()
    backend = base.backend_tokenizer
    counts: dict[str, int] = {}
    for text in (caption(t, d) for t in TRAIN_TEMPLATES for d in range(10)):
        for word, _ in backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(text)):
            counts[word] = counts.get(word, 0) + 1
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    symbols = [base.bos_token, base.eos_token, *alphabet, *(c + "</w>" for c in alphabet)]
    merges = learn_bpe(counts)
    vocab = {token: i for i, token in enumerate([*symbols, *(a + b for a, b in merges)])}
    tokenizer_cls: Any = CLIPTokenizer  # its stubs say merges are strings; (a, b) pairs work too
    tokenizer: Any = tokenizer_cls(vocab=vocab, merges=merges)
    tokenizer.model_max_length = HPARAMS["max_position_embeddings"]
    return tokenizer


def filler_words() -> list[str]:
    """Plain English words from the data set descriptions that ship with scikit-learn, minus any word
    of a training or unseen caption, sorted (so the choice of fillers is reproducible)."""
    import re
    from importlib.resources import files

    from genai_mcp.tools.house.digits import DIGIT_NAMES

    text = " ".join(
        f.read_text(encoding="utf-8")
        for f in sorted(files("sklearn.datasets.descr").iterdir(), key=lambda f: f.name)
        if f.name.endswith(".rst")
    )
    banned = {w for t in (*TRAIN_TEMPLATES, *UNSEEN_TEMPLATES) for w in t.split()} | set(DIGIT_NAMES)
    return sorted({w for w in re.findall(r"[a-z]{3,12}", text.lower()) if w not in banned})


def noisy_caption(template: str, label: int, fillers: list[str], rng: Any) -> str:
    words = caption(template, label).split()
    for _ in range(rng.choice((0, 0, 1, 2))):
        words.insert(rng.randrange(len(words) + 1), rng.choice(fillers))
    return " ".join(words)


def build_processor(tokenizer: Any) -> Any:
    from transformers import CLIPImageProcessorPil, CLIPProcessor

    size = HPARAMS["image_size"]
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": size},
        crop_size={"height": size, "width": size},
        resample=2,  # bilinear, as digit_images upscales
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
        do_convert_rgb=True,
    )
    processor_cls: Any = CLIPProcessor
    return processor_cls(image_processor=image_processor, tokenizer=tokenizer)


def build_model(tokenizer: Any) -> Any:
    from transformers import CLIPConfig, CLIPModel, CLIPTextConfig, CLIPVisionConfig

    # transformers 5: tiny configs need the special-token ids spelt out; text pooling reads eos_token_id.
    text = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=HPARAMS["text_hidden_size"],
        intermediate_size=HPARAMS["intermediate_size"],
        num_hidden_layers=HPARAMS["text_layers"],
        num_attention_heads=HPARAMS["attention_heads"],
        max_position_embeddings=HPARAMS["max_position_embeddings"],
        projection_dim=HPARAMS["projection_dim"],
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    vision = CLIPVisionConfig(
        image_size=HPARAMS["image_size"],
        patch_size=HPARAMS["patch_size"],
        num_channels=3,
        hidden_size=HPARAMS["vision_hidden_size"],
        intermediate_size=HPARAMS["intermediate_size"],
        num_hidden_layers=HPARAMS["vision_layers"],
        num_attention_heads=HPARAMS["attention_heads"],
        projection_dim=HPARAMS["projection_dim"],
    )
    config = CLIPConfig(
        text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=HPARAMS["projection_dim"]
    )
    return CLIPModel(config)


def zero_shot_accuracy(
    model: Any, processor: Any, images: list[Any], labels: list[int], template: str
) -> float:
    """Share of `images` whose most similar prompt (template filled with each digit 0-9) is the right one."""
    import torch

    model.eval()
    prompts = [caption(template, d) for d in range(10)]
    with torch.no_grad():
        inputs = processor(text=prompts, images=images, return_tensors="pt", padding=True)
        predicted = model(**inputs).logits_per_image.argmax(-1)
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
    import torch.nn.functional as F

    from genai_mcp.tools.house.digits import digit_images

    tokenizer = build_tokenizer()
    processor = build_processor(tokenizer)
    model = build_model(tokenizer)
    train_images, train_labels = digit_images("train")
    test_images, test_labels = digit_images("test")
    pixels = processor(images=train_images, return_tensors="pt")["pixel_values"]
    y = torch.tensor(train_labels)
    fillers = filler_words()
    rng = random.Random(SEED)
    steps = QUICK_STEPS if args.quick else HPARAMS["steps"]
    batch = HPARAMS["batch_size"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=HPARAMS["lr"], weight_decay=HPARAMS["weight_decay"])
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=HPARAMS["lr"], total_steps=steps, pct_start=0.1
    )
    generator = torch.Generator().manual_seed(SEED)

    with common.stopwatch() as timer:
        for step in range(steps):
            model.train()
            idx = torch.randint(0, len(y), (batch,), generator=generator)
            captions = [noisy_caption(rng.choice(TRAIN_TEMPLATES), int(d), fillers, rng) for d in y[idx]]
            text = processor.tokenizer(captions, return_tensors="pt", padding=True, truncation=True)
            output = model(
                input_ids=text["input_ids"],
                attention_mask=text["attention_mask"],
                pixel_values=common.random_shift(pixels[idx], generator),
            )
            same = (y[idx][:, None] == y[idx][None, :]).float()
            target = same / same.sum(-1, keepdim=True)
            loss: Any = 0.5 * (
                F.cross_entropy(output.logits_per_image, target)
                + F.cross_entropy(output.logits_per_text, target)
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            if step % 100 == 99 or step == steps - 1:
                acc = zero_shot_accuracy(model, processor, test_images, test_labels, UNSEEN_TEMPLATES[0])
                print(
                    f"step {step + 1}/{steps} loss {float(loss.detach()):.4f} unseen-template acc {acc:.4f}",
                    flush=True,
                )

    model.eval()
    model.save_pretrained(out)
    processor.save_pretrained(out)
    per_template = {
        t: round(zero_shot_accuracy(model, processor, test_images, test_labels, t), 4)
        for t in (*TRAIN_TEMPLATES[:2], *UNSEEN_TEMPLATES)
    }
    metrics = {
        "zero_shot_accuracy_unseen_template": per_template[UNSEEN_TEMPLATES[0]],
        "unseen_template": UNSEEN_TEMPLATES[0],
        "zero_shot_accuracy_by_template": per_template,
        "train_templates": list(TRAIN_TEMPLATES),
        "unseen_templates": list(UNSEEN_TEMPLATES),
        "held_out_images": len(test_labels),
        "tokenizer_vocab_size": len(tokenizer),
        "filler_words": len(fillers),
        "steps": steps,
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
    print(f"wrote {out}: zero-shot accuracy by template {per_template}", flush=True)


def write_card(out: Any, m: dict[str, Any]) -> None:
    hp = "\n".join(f"- {k}: {v}" for k, v in m["hyperparameters"].items())
    seen = "\n".join(f"- `{t}`" for t in m["train_templates"])
    table = "\n".join(
        f"| `{t}` | {'no' if t in m['unseen_templates'] else 'yes'} | {a:.2%} |"
        for t, a in m["zero_shot_accuracy_by_template"].items()
    )
    common.write_model_card(
        out,
        "house/clip-digits: a tiny CLIP that matches digits with captions",
        {
            "Model": (
                f"`CLIPModel` (transformers), {m['parameters']:,} parameters, trained from scratch, with its "
                f"own `CLIPTokenizer` ({m['tokenizer_vocab_size']} tokens, byte-level BPE learnt from the "
                "training captions; "
                "every character is in the vocabulary, so unseen words split into pieces). Vision tower: "
                "16x16 RGB, patch 4, through the saved `CLIPProcessor` (any image size is resized and "
                "centre-cropped to 16x16; bright ink on a dark background, like the training digits). "
                "Text tower: at most 32 tokens. Knows about digits and the words around them, nothing else."
            ),
            "Data": (
                common.DIGITS_DATA_SECTION
                + "\n\nCaptions: each training image is paired with one of these templates, {name} being "
                "zero..nine and {digit} 0..9, with 0-2 filler words (drawn from the "
                f"{m['filler_words']} words of scikit-learn's data set descriptions) inserted at random "
                "places:\n\n" + seen
            ),
            "Training": (
                common.retraining_text(FOLDER, m["command"]) + "\n\n"
                f"Seed {m['seed']}; {m['steps']} optimizer steps; "
                f"training time {m['train_seconds']} s on CPU, "
                "one torch thread (2 cores shared with other work).\n\n"
                f"{hp}\n\nEnvironment:\n\n" + common.environment_text(m["environment"])
            ),
            "Results (zero-shot, 360 held-out images)": (
                "One prompt per digit from the template; the most similar prompt is the prediction.\n\n"
                "| template | seen in training | accuracy |\n|---|---|---|\n" + table
            ),
            "Size": f"{common.human_bytes(m['weights_bytes'])} of weights (float32 safetensors).",
            "License": common.DIGITS_LICENSE_SECTION,
        },
        metadata={
            "license": "apache-2.0",
            "library_name": "transformers",
            "pipeline_tag": "zero-shot-image-classification",
            "tags": ["clip", "digits", "genai-mcp-house"],
        },
    )


if __name__ == "__main__":
    main()
