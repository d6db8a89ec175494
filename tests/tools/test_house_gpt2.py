"""The house causal LM (house/gpt2-pydocs): its training script, its shipped weights, its tokenizer."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from genai_mcp.tools.house import house_model
from genai_mcp.tools.house.corpus import load_corpus, split_corpus

REPO = Path(__file__).resolve().parents[2]
SHIPPED = house_model("house/gpt2-pydocs").path


@pytest.fixture(scope="module")
def lm() -> Any:
    from genai_mcp.tools.models import load_model

    return load_model("text-generation")


def _nll(model: Any, ids: list[int], window: int = 256) -> tuple[float, int]:
    """Summed next-token NLL (nats) of `ids` in non-overlapping windows, and the number predicted."""
    import torch

    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(ids) - 1, window):
            chunk = torch.tensor([ids[start : start + window + 1]])
            if chunk.shape[1] < 2:
                break
            x = chunk[:, :-1]
            logits = model(input_ids=x, attention_mask=torch.ones_like(x)).logits
            total += torch.nn.functional.cross_entropy(logits[0], chunk[0, 1:], reduction="sum").item()
            count += chunk.shape[1] - 1
    return total, count


def _perplexity(lm: Any, text: str) -> float:
    ids = [lm.processor.eos_token_id, *lm.processor(text).input_ids]
    nll, n = _nll(lm.model, ids)
    return math.exp(nll / n)


@pytest.mark.slow
def test_quick_training_run_writes_a_model_that_loads(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "gpt2"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "train_gpt2.py"), "--quick", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    model = AutoModelForCausalLM.from_pretrained(out, dtype="float32")
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert type(model).__name__ == "GPT2LMHeadModel"
    assert model.config.vocab_size == len(tokenizer)
    ids = tokenizer.eos_token_id
    assert (
        model.config.eos_token_id == model.config.pad_token_id == model.generation_config.eos_token_id == ids
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["quick"] is True
    assert 1 < metrics["val_perplexity"] < metrics["hyperparameters"]["vocab_size"]
    assert "val_bits_per_byte" in metrics and (out / "README.md").is_file()


def test_shipped_model_predicts_held_out_text(lm: Any) -> None:
    assert lm.source == "house" and lm.dtype == "float32"
    _, val = split_corpus(load_corpus())
    ids: list[int] = []
    for doc in val:  # about 4k tokens of held-out documents, each ended by EOS as in training
        ids += [*lm.processor(doc).input_ids, lm.processor.eos_token_id]
        if len(ids) > 4096:
            break
    nll, n = _nll(lm.model, ids[:4097])
    assert math.exp(nll / n) <= 45


def test_shipped_model_prefers_real_sentences_to_shuffled_words(lm: Any) -> None:
    corpus = "\n".join(load_corpus())
    sentences = [
        "Return a new list containing all items from the iterable in ascending order.",
        "Return the absolute value of the argument.",
        "Raise ValueError if the value is not present.",
    ]
    rng = random.Random(0)
    for sentence in sentences:
        assert sentence in corpus  # documentation verbatim
        words = sentence.split()
        shuffled = words[:]
        while shuffled == words:
            rng.shuffle(shuffled)
        assert _perplexity(lm, sentence) < _perplexity(lm, " ".join(shuffled)), sentence


def test_greedy_generation_is_the_same_with_and_without_kv_cache(lm: Any) -> None:
    prompt = lm.processor("Return the number of", return_tensors="pt")
    runs = [
        lm.model.generate(**prompt, max_new_tokens=24, do_sample=False, use_cache=use_cache)[0].tolist()
        for use_cache in (True, False)
    ]
    assert runs[0] == runs[1]
    assert len(runs[0]) > prompt.input_ids.shape[1]  # it generated something before any EOS


@pytest.mark.parametrize(
    "text",
    [
        "def f(x):\n    return x ** 2  # square\n",
        "  leading spaces, trailing tabs\t\t\n\n\nand blank lines ",
        "naïve café — «quotes» 東京 🐍 \x00\x7f",
        "",
    ],
)
def test_tokenizer_round_trips_text(lm: Any, text: str) -> None:
    tok = lm.processor
    ids = tok(text).input_ids
    assert tok.decode(ids) == text
    assert tok.eos_token_id not in ids  # no BOS/EOS added on encode: prompts are raw text
    assert all(0 <= i < lm.model.config.vocab_size for i in ids)


def test_shipped_folder_records_its_held_out_metrics() -> None:
    metrics = json.loads((SHIPPED / "metrics.json").read_text())
    assert metrics["quick"] is False
    assert metrics["val_perplexity"] <= 40
    assert 0 < metrics["val_bits_per_byte"] < 3
    card = (SHIPPED / "README.md").read_text()
    assert f"perplexity {metrics['val_perplexity']:.2f}" in card
    assert sum(p.stat().st_size for p in SHIPPED.iterdir()) <= 5_000_000
