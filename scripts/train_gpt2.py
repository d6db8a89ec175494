"""Train the house causal LM: a tiny GPT-2 with its own byte-level BPE, on Python's documentation.

    .venv/bin/python scripts/train_gpt2.py                 # ~25 min; writes build/house-models/gpt2-pydocs
    .venv/bin/python scripts/train_gpt2.py --overwrite-house   # replaces the shipped tools/house_models/gpt2-pydocs
    .venv/bin/python scripts/train_gpt2.py --quick --out DIR   # a few steps on a slice (seconds), for tests

Data: the committed snapshot scripts/data/pydocs-corpus.txt.gz (see scripts/build_pydocs_corpus.py)
split by genai_mcp.tools.house.corpus.split_corpus; the tokenizer and the model see the training
part only. Documents are joined into one token stream, each followed by <|endoftext|>; training
draws random 256-token windows from it. Held-out metrics run over the whole validation stream in
non-overlapping 256-token windows: perplexity = exp(mean NLL per predicted token), bits per byte =
total NLL / ln 2 / UTF-8 bytes of the predicted tokens (<|endoftext|> counts as one byte, standing
for the document break).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _house_common import (
    add_common_args,
    command_line,
    folder_bytes,
    human_bytes,
    resolve_out,
    retraining_text,
    seed_everything,
    stopwatch,
    weights_bytes,
    write_metrics,
    write_model_card,
)

from genai_mcp.tools.house.corpus import SNAPSHOT_PATH, load_corpus, split_corpus
from genai_mcp.tools.text.schemas import PLAIN_CHAT_TEMPLATE

FOLDER = "gpt2-pydocs"
EOS = "<|endoftext|>"


@dataclass
class Hyper:
    vocab_size: int = 1024  # 4096 did far worse at this data size (study: ppl 170 vs 37)
    n_positions: int = 256  # context length; training windows use all of it
    n_embd: int = 128
    n_layer: int = 4
    n_head: int = 4
    dropout: float = 0.0  # under-trained, not over-fitted: a couple of epochs at most
    batch_size: int = 16  # x 256 tokens = 4096 tokens per step
    steps: int = 1500
    warmup_steps: int = 50
    lr: float = 2e-3
    min_lr_ratio: float = 0.1  # cosine decays to lr * this
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.1  # on matrices and embeddings only, not biases or LayerNorms
    grad_clip: float = 1.0
    seed: int = 0


QUICK: dict[str, Any] = {"vocab_size": 300, "steps": 6, "warmup_steps": 2, "batch_size": 4}
QUICK_CHARS = (50_000, 5_000)  # characters of (train, validation) documents a quick run uses


def train_tokenizer(docs: list[str], vocab_size: int) -> Any:
    """A GPT-2-style byte-level BPE (no prefix space) wrapped so AutoTokenizer can load it."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],  # id 0
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(docs, trainer=trainer)
    return PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok,
        bos_token=EOS,
        eos_token=EOS,
        pad_token=EOS,
        unk_token=EOS,
        model_max_length=256,
        chat_template=PLAIN_CHAT_TEMPLATE,
    )


def token_stream(tokenizer: Any, docs: list[str]) -> Any:
    """All documents as one LongTensor of ids, each document followed by EOS."""
    import torch

    ids: list[int] = []
    # The backend tokenizer directly: documents are longer than the model's context, which is fine
    # for a stream but makes the wrapper log a warning per call.
    for enc in tokenizer.backend_tokenizer.encode_batch(docs, add_special_tokens=False):
        ids += enc.ids
        ids.append(tokenizer.eos_token_id)
    return torch.tensor(ids, dtype=torch.long)


def build_model(h: Hyper, tokenizer: Any) -> Any:
    from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel

    eos = tokenizer.eos_token_id
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=h.n_positions,
        n_embd=h.n_embd,
        n_layer=h.n_layer,
        n_head=h.n_head,
        resid_pdrop=h.dropout,
        embd_pdrop=h.dropout,
        attn_pdrop=h.dropout,
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=eos,
    )
    model = GPT2LMHeadModel(config)
    model.generation_config = GenerationConfig(bos_token_id=eos, eos_token_id=eos, pad_token_id=eos)  # type: ignore[no-untyped-call]
    return model


def evaluate(
    model: Any, stream: Any, byte_lengths: Any | None, window: int, batch_size: int = 16
) -> dict[str, float]:
    """Held-out NLL over non-overlapping windows; `byte_lengths[i]` = UTF-8 bytes of token id i."""
    import torch

    n = (len(stream) - 1) // window * window
    inputs = stream[:n].view(-1, window)
    targets = stream[1 : n + 1].view(-1, window)
    total_nll, tokens = 0.0, 0
    model.eval()
    with torch.no_grad():
        for i in range(0, len(inputs), batch_size):
            x = inputs[i : i + batch_size]
            # An explicit all-ones mask: EOS doubles as pad, and without a mask transformers warns
            # that the (unpadded) windows might be padded.
            logits = model(input_ids=x, attention_mask=torch.ones_like(x)).logits
            t = targets[i : i + batch_size]
            nll = torch.nn.functional.cross_entropy(logits.flatten(0, 1), t.flatten(), reduction="sum")
            total_nll += nll.item()
            tokens += t.numel()
    model.train()
    nbytes = int(byte_lengths[targets].sum()) if byte_lengths is not None else 0
    return {
        "val_loss": total_nll / tokens,
        "val_perplexity": math.exp(total_nll / tokens),
        "val_bits_per_byte": total_nll / math.log(2) / nbytes if nbytes else math.nan,
        "val_tokens": tokens,
        "val_bytes": nbytes,
    }


def token_byte_lengths(tokenizer: Any) -> Any:
    import torch

    # A byte-level token's string spells one byte per character (GPT-2's byte-to-unicode map);
    # decoding single tokens instead would turn split UTF-8 sequences into 3-byte U+FFFD.
    lengths = [len(t) for t in tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))]
    lengths[tokenizer.eos_token_id] = 1
    return torch.tensor(lengths, dtype=torch.long)


def lr_at(step: int, h: Hyper) -> float:
    if step < h.warmup_steps:
        return h.lr * (step + 1) / h.warmup_steps
    progress = (step - h.warmup_steps) / max(1, h.steps - h.warmup_steps)
    return h.lr * (h.min_lr_ratio + (1 - h.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def train(model: Any, stream: Any, h: Hyper, log_every: int, probe: Any = None) -> list[tuple[int, float]]:
    """AdamW + warm-up + cosine on random windows; returns (step, mean train loss) per log interval.

    `probe`, if given, is a short validation stream whose loss is printed at each log line, to
    watch for over-fitting; it does not steer training.
    """
    import torch

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": h.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=h.lr,
        betas=h.betas,
    )
    gen = torch.Generator().manual_seed(h.seed)
    window = h.n_positions
    history: list[tuple[int, float]] = []
    running, count = 0.0, 0
    start = time.perf_counter()
    for step in range(h.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, h)
        starts = torch.randint(0, len(stream) - window - 1, (h.batch_size,), generator=gen)
        batch = torch.stack([stream[s : s + window + 1] for s in starts.tolist()])
        # (B, T, V) logits against the next tokens; computed here rather than via `labels`, which
        # would shift inside the model and drop the window's last target.
        x = batch[:, :-1]
        logits = model(input_ids=x, attention_mask=torch.ones_like(x)).logits
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(model.parameters(), h.grad_clip)
        opt.step()
        running, count = running + loss.item(), count + 1
        if (step + 1) % log_every == 0 or step + 1 == h.steps:
            history.append((step + 1, running / count))
            shown = f"step {step + 1}/{h.steps} loss {running / count:.3f}"
            if probe is not None:
                shown += f" val {evaluate(model, probe, None, window)['val_loss']:.3f}"
            print(f"{shown} ({time.perf_counter() - start:.0f} s)", flush=True)
            running, count = 0.0, 0
    return history


def _head(docs: list[str], chars: int) -> list[str]:
    """The first short documents of `docs` that together hold about `chars` characters."""
    taken: list[str] = []
    for doc in (d for d in docs if len(d) <= chars // 10):
        if sum(map(len, taken)) >= chars:
            break
        taken.append(doc)
    return taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser, FOLDER)
    parser.add_argument(
        "--steps", type=int, default=None, help=f"default {Hyper.steps} ({QUICK['steps']} with --quick)"
    )
    parser.add_argument("--corpus", type=Path, default=SNAPSHOT_PATH)
    parser.add_argument(
        "--probe-tokens",
        type=int,
        default=0,
        help="print the loss on this many validation tokens at each log line",
    )
    args = parser.parse_args()
    h = Hyper(**(QUICK if args.quick else {}))
    if args.steps is not None:
        h.steps = args.steps
    out = resolve_out(args, FOLDER)
    seed_everything(h.seed, args.threads)

    import torch
    import transformers

    corpus_bytes = Path(args.corpus).read_bytes()
    train_docs, val_docs = split_corpus(load_corpus(args.corpus))
    if args.quick:
        train_docs, val_docs = _head(train_docs, QUICK_CHARS[0]), _head(val_docs, QUICK_CHARS[1])
    with stopwatch() as total:
        tokenizer = train_tokenizer(train_docs, h.vocab_size)
        train_stream = token_stream(tokenizer, train_docs)
        val_stream = token_stream(tokenizer, val_docs)
        print(f"tokens: train {len(train_stream)}, validation {len(val_stream)}", flush=True)
        model = build_model(h, tokenizer)
        probe = val_stream[: args.probe_tokens] if args.probe_tokens else None
        history = train(model, train_stream, h, log_every=max(1, h.steps // 30), probe=probe)
    train_seconds = total["seconds"]
    metrics: dict[str, Any] = evaluate(model, val_stream, token_byte_lengths(tokenizer), h.n_positions)
    print({k: round(v, 4) for k, v in metrics.items()}, flush=True)

    model.save_pretrained(out)
    # In tokenizer_config.json, where the shipped folder keeps it, not a separate chat_template.jinja.
    tokenizer.save_pretrained(out, save_jinja_files=False)
    n_params = sum(p.numel() for p in model.parameters())
    metrics |= {
        "train_seconds": round(train_seconds, 1),
        "train_tokens": len(train_stream),
        "train_documents": len(train_docs),
        "val_documents": len(val_docs),
        "tokens_seen": h.steps * h.batch_size * h.n_positions,
        "epochs": round(h.steps * h.batch_size * h.n_positions / len(train_stream), 2),
        "final_train_loss": round(history[-1][1], 4),
        "parameters": n_params,
        "weights_bytes": weights_bytes(out),
        "corpus_sha256": hashlib.sha256(corpus_bytes).hexdigest(),
        "command": command_line(),
        "quick": args.quick,
        "hyperparameters": asdict(h),
        "torch_threads": torch.get_num_threads(),
        "versions": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
    }
    write_metrics(out, metrics)
    write_card(out, metrics, h, history)
    print(
        f"wrote {out} ({human_bytes(folder_bytes(out))}; weights {human_bytes(int(metrics['weights_bytes']))})"
    )


def write_card(out: Path, m: dict[str, Any], h: Hyper, history: list[tuple[int, float]]) -> None:
    curve = ", ".join(f"{s}: {loss:.2f}" for s, loss in history[:: max(1, len(history) // 6)])
    write_model_card(
        out,
        "house/gpt2-pydocs: a tiny GPT-2 trained on Python's documentation",
        {
            "What it is": (
                f"`GPT2LMHeadModel`, {m['parameters']:,} parameters ({h.n_layer} layers, {h.n_head} heads, "
                f"width {h.n_embd}, {h.n_positions} positions, tied input/output embeddings), with its own "
                f"byte-level BPE tokenizer (vocabulary {h.vocab_size}, `<|endoftext|>` = id 0 is bos, eos "
                "and pad). The default model of genai-mcp's text-generation tool: it writes text that "
                "looks like Python docstrings, quickly and offline. It is a demonstration-size model, "
                "not a source of facts: expect fluent-looking but often wrong statements."
            ),
            "Data": (
                "Text that ships with Python 3.11.7: the 79 `pydoc_data.topics` entries (the language "
                "reference pages `help()` shows) and the docstrings of the standard library (modules, "
                "classes, functions, methods; test packages, IDLE and lib2to3 left out), de-duplicated, "
                "whitespace normalized, committed as `scripts/data/pydocs-corpus.txt.gz` "
                f"(sha256 `{m['corpus_sha256'][:16]}…`). Held out: the documents whose seeded SHA-256 "
                f"falls in the lowest 5 % (`genai_mcp.tools.house.corpus.split_corpus`): "
                f"{m['val_documents']} validation vs {m['train_documents']} training documents. The "
                "tokenizer and the model saw the training part only."
            ),
            "License": (
                "Training text: Python's documentation and source, © Python Software Foundation, under the "
                "PSF License Agreement (see `scripts/data/README.md`). Weights, tokenizer and code: "
                "Apache-2.0, like genai-mcp."
            ),
            "Held-out results": (
                f"- perplexity {m['val_perplexity']:.2f} (exp of mean NLL per token)\n"
                f"- {m['val_bits_per_byte']:.3f} bits per byte (total NLL / ln 2 / UTF-8 bytes)\n"
                f"- over {m['val_tokens']:,} tokens = {m['val_bytes']:,} bytes, non-overlapping "
                f"{h.n_positions}-token windows\n"
                f"- final training loss {m['final_train_loss']:.3f} (mean of the last logging interval)"
            ),
            "Training": (
                retraining_text(FOLDER, m["command"]) + "\n\n"
                f"- {h.steps} steps x {h.batch_size} windows x {h.n_positions} tokens = "
                f"{m['tokens_seen']:,} tokens ({m['epochs']} epochs of {m['train_tokens']:,} training tokens)\n"
                f"- AdamW lr {h.lr}, betas {h.betas}, weight decay {h.weight_decay} (matrices and "
                f"embeddings), {h.warmup_steps} warm-up steps then cosine to {h.lr * h.min_lr_ratio:g}, "
                f"gradient clip {h.grad_clip}, dropout {h.dropout}\n"
                f"- seed {h.seed}; time {m['train_seconds']:.0f} s (tokenizer + training) on 2 shared CPU "
                f"cores, torch threads {m['torch_threads']}; {', '.join(f'{k} {v}' for k, v in m['versions'].items())}\n"
                f"- training loss by step: {curve}\n"
                "- deterministic on one machine: the same command and thread count gave byte-identical "
                "weights twice; the time depends on what else shares the cores"
            ),
            "Size": f"{human_bytes(m['weights_bytes'])} of float32 safetensors.",
            "Use": (
                "```python\n"
                "from genai_mcp.tools.models import load_model\n"
                'bundle = load_model("text-generation")  # house/gpt2-pydocs\n'
                'ids = bundle.processor("Return the", return_tensors="pt").input_ids\n'
                "print(bundle.processor.decode(bundle.model.generate(ids, max_new_tokens=40)[0]))\n"
                "```\n\n"
                "or `AutoModelForCausalLM.from_pretrained(folder)` / `AutoTokenizer.from_pretrained(folder)`."
            ),
        },
    )


if __name__ == "__main__":
    main()
