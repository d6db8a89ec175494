"""Parameter accounting: from sizes (count_parameters) and from loaded modules (inspect_model).

The analytic count is checked against the seed's worked example and against transformers' own
BERT, GPT-2 and ViT models built here from small configs (random weights, nothing downloaded):
the totals, every component and every layer must agree exactly. The instantiated counts are
checked against torch's and transformers' own totals; the KV-cache figure against the cache a
real forward pass of the house GPT-2 fills; the LoRA share against an adapter saved here.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import ValidationError

from genai_mcp.tools.anatomy import (
    CountRequest,
    InspectRequest,
    count_modules,
    count_parameters,
    inspect_model,
)
from genai_mcp.tools.anatomy.schemas import ParameterBreakdown
from genai_mcp.tools.errors import InvalidInputError
from genai_mcp.tools.lora.schemas import AdapterInfo
from genai_mcp.tools.lora.store import AdapterStore
from genai_mcp.tools.models import ModelCache
from genai_mcp.tools.models.adapted import peft_warnings_silenced

SEED = {
    "vocab_size": 100, "d_model": 32, "heads": 4, "d_ff": 64, "encoder_layers": 2, "max_positions": 10,
    "qkv_bias": False, "out_bias": False,
}  # fmt: skip


@pytest.fixture(scope="module")
def cache() -> ModelCache:
    return ModelCache(device="cpu")


def components(breakdown: ParameterBreakdown) -> dict[str, int]:
    return {c.component: c.parameters for c in breakdown.components}


def layer_totals(breakdown: ParameterBreakdown) -> list[tuple[int, dict[str, int]]]:
    return [(layer.parameters, layer.components) for layer in breakdown.layers]


# ---- analytic


def test_the_seeds_worked_example_gives_20352_term_by_term() -> None:
    count = count_parameters(CountRequest(**SEED))
    assert count.breakdown.total == 20_352
    assert [(t.where, t.what, t.parameters) for t in count.terms] == [
        ("embeddings", "token embedding", 3_200),
        ("embeddings", "learned positions", 320),
        ("encoder.0", "self-attention", 4_096),
        ("encoder.0", "feed-forward", 4_192),
        ("encoder.0", "2 norms", 128),
        ("encoder.1", "self-attention", 4_096),
        ("encoder.1", "feed-forward", 4_192),
        ("encoder.1", "2 norms", 128),
    ]
    assert count.terms[2].formula == "4 d^2 = 4 x 32^2"
    assert components(count.breakdown) == {
        "embeddings": 3_200, "positional": 320, "attention": 8_192, "feed_forward": 8_384,
        "normalisation": 256, "head": 0, "lora": 0, "other": 0,
    }  # fmt: skip
    assert [layer.parameters for layer in count.breakdown.layers] == [8_416, 8_416]
    assert count.breakdown.outside_layers == 3_520
    memory = {m.dtype: m.bytes for m in count.breakdown.weight_memory}
    assert memory == {
        "float32": 81_408,
        "float16": 40_704,
        "bfloat16": 40_704,
        "int8": 20_352,
        "int4": 10_176,
    }
    assert count.kv_cache is None  # an encoder has no KV cache


def test_conventions_change_the_count_as_the_formulas_say() -> None:
    base = count_parameters(CountRequest(**SEED)).breakdown.total
    with_biases = count_parameters(CountRequest(**{**SEED, "qkv_bias": True, "out_bias": True}))
    assert with_biases.breakdown.total == base + 2 * 4 * 32
    sinusoidal = count_parameters(CountRequest(**{**SEED, "positions": "sinusoidal"}))
    assert sinusoidal.breakdown.total == base - 320
    rms = count_parameters(CountRequest(**{**SEED, "norm_bias": False}))
    assert rms.breakdown.total == base - 2 * 2 * 32
    # Grouped-query attention: k and v map d to g x d/h = 2 x 8 = 16 instead of 32.
    gqa = count_parameters(CountRequest(**{**SEED, "kv_heads": 2}))
    assert gqa.breakdown.total == base - 2 * 2 * 32 * 16
    # An encoder-decoder: the decoder layer adds cross-attention and a third norm.
    seq2seq = count_parameters(CountRequest(**{**SEED, "decoder_layers": 1}))
    assert seq2seq.breakdown.total == base + (2 * 4_096 + 4_192 + 192)
    assert seq2seq.kv_cache is not None and seq2seq.kv_cache.bytes_per_token == 2 * 1 * 4 * 8 * 2


def test_bert_gpt2_and_vit_built_by_transformers_match_the_analytic_count_exactly() -> None:
    from transformers import (
        BertConfig,
        BertModel,
        GPT2Config,
        GPT2LMHeadModel,
        ViTConfig,
        ViTForImageClassification,
    )

    torch.manual_seed(0)
    bert = BertModel(
        BertConfig(vocab_size=90, hidden_size=24, num_hidden_layers=2, num_attention_heads=3, intermediate_size=40,
                   max_position_embeddings=33)
    )  # fmt: skip
    gpt2 = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=70, n_embd=32, n_layer=3, n_head=4, n_positions=48, bos_token_id=0, eos_token_id=0
        )
    )
    vit_config = ViTConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48, image_size=64,
        patch_size=16, qkv_bias=False,
    )  # fmt: skip
    vit_config.num_labels = 5  # not a typed ViTConfig argument in transformers 5
    vit = ViTForImageClassification(vit_config)
    cases: list[tuple[Any, dict[str, Any]]] = [
        (bert, {"vocab_size": 90, "d_model": 24, "heads": 3, "d_ff": 40, "encoder_layers": 2, "max_positions": 33,
                "token_types": 2, "embedding_norm": True, "pooler": True}),
        (gpt2, {"vocab_size": 70, "d_model": 32, "heads": 4, "d_ff": 128, "decoder_layers": 3, "max_positions": 48,
                "final_norm": True, "head": "lm", "tied_embeddings": True}),
        (vit, {"inputs": "patches", "image_size": 64, "patch_size": 16, "cls_token": True, "d_model": 32, "heads": 4,
               "d_ff": 48, "encoder_layers": 2, "qkv_bias": False, "final_norm": True, "head": "classifier",
               "num_labels": 5}),
    ]  # fmt: skip
    for model, sizes in cases:
        counted, trainable, _ = count_modules(model)
        analytic = count_parameters(CountRequest(**sizes)).breakdown
        name = type(model).__name__
        assert counted.total == analytic.total == model.num_parameters() == trainable, name
        assert components(counted) == components(analytic), name
        assert layer_totals(counted) == layer_totals(analytic), name
        assert counted.outside_layers == analytic.outside_layers, name
    gpt2_count = count_parameters(CountRequest(**cases[1][1]))
    assert gpt2_count.kv_cache is not None and gpt2_count.kv_cache.bytes_per_token == 2 * 3 * 32 * 2


def test_inconsistent_sizes_are_refused_naming_the_problem() -> None:
    bad: list[tuple[dict[str, Any], str]] = [
        ({**SEED, "d_model": 30}, "d_model 30 is not a multiple of heads 4"),
        ({**SEED, "kv_heads": 3}, "heads 4 is not a multiple of kv_heads 3"),
        ({**SEED, "encoder_layers": 0}, "give encoder_layers or decoder_layers"),
        ({**SEED, "max_positions": None}, "learned positions for tokens need max_positions"),
        (
            {**SEED, "inputs": "patches", "image_size": 225},
            "image_size 225 is not a multiple of patch_size 16",
        ),
        ({**SEED, "head": "classifier"}, "a classifier head needs num_labels"),
        ({**SEED, "encoder_layers": 513}, "less than or equal to 512"),
    ]
    for sizes, message in bad:
        with pytest.raises(ValidationError, match=message):
            CountRequest(**sizes)


# ---- instantiated


def test_house_gpt2_counts_add_up_with_the_tied_head_once_and_its_kv_cache_is_what_a_forward_fills(
    cache: ModelCache,
) -> None:
    anatomy = inspect_model(
        InspectRequest(task="text-generation", context_length=100, batch_size=3), models=cache
    )
    net = cache.get("text-generation").model
    assert anatomy.model == "house/gpt2-pydocs" and anatomy.architecture == "GPT2LMHeadModel"
    total = anatomy.breakdown.total
    assert total == net.num_parameters() == sum(p.numel() for p in net.parameters()) == 957_184
    assert sum(components(anatomy.breakdown).values()) == total
    assert (
        sum(layer.parameters for layer in anatomy.breakdown.layers) + anatomy.breakdown.outside_layers
        == total
    )
    assert [t.model_dump() for t in anatomy.tied] == [
        {"name": "lm_head.weight", "same_as": "transformer.wte.weight"}
    ]
    assert components(anatomy.breakdown)["head"] == 0  # the LM head is the token embedding
    assert anatomy.trainable == total and anatomy.frozen == 0
    (figures,) = anatomy.figures
    assert (figures.layers, figures.heads, figures.d_model, figures.d_ff, figures.vocab_size, figures.context_length) == (
        4, 4, 128, 512, 1024, 256,
    )  # fmt: skip
    assert anatomy.loaded_bytes >= 4 * total

    kv = anatomy.kv_cache
    assert kv is not None and (kv.context_length, kv.batch_size, kv.dtype) == (100, 3, "float32")
    ids = torch.randint(0, 1024, (3, 100))
    with torch.inference_mode():
        past = net(input_ids=ids, use_cache=True).past_key_values
    filled = sum(t.numel() * t.element_size() for layer in past.layers for t in (layer.keys, layer.values))
    assert kv.bytes == filled and kv.bytes_per_token == filled // (3 * 100) == 4_096


def test_vision_towers_and_a_unet_are_counted_by_component(cache: ModelCache) -> None:
    vit = inspect_model(InspectRequest(task="image-classification"), models=cache)
    (figures,) = vit.figures
    assert (figures.image_size, figures.patch_size, figures.patches, figures.sequence_length) == (
        16,
        4,
        16,
        17,
    )
    parts = components(vit.breakdown)
    assert parts["positional"] == 17 * 64 and parts["head"] == 64 * 10 + 10 and parts["other"] == 0
    assert vit.kv_cache is None

    clip = inspect_model(InspectRequest(task="zero-shot-image-classification"), models=cache)
    assert [f.part for f in clip.figures] == ["text", "vision"]
    assert clip.figures[1].sequence_length == 17 and clip.figures[0].vocab_size == 577
    assert clip.breakdown.total == cache.get("zero-shot-image-classification").model.num_parameters()
    assert len(clip.breakdown.layers) == 6  # three in each tower, named apart

    unet = inspect_model(InspectRequest(task="unconditional-image-generation"), models=cache)
    net = cache.get("unconditional-image-generation").model
    assert unet.breakdown.total == sum(p.numel() for p in net.parameters())
    assert components(unet.breakdown)["other"] > 0  # convolutions have no transformer component


def save_adapter(store: AdapterStore, cache: ModelCache) -> None:
    """A rank-2 LoRA on the house GPT-2's c_attn, saved as lora_finetune saves one."""
    from peft import LoraConfig, get_peft_model

    base = cache.get("text-generation")
    config = LoraConfig(r=2, target_modules=["c_attn"], fan_in_fan_out=True, init_lora_weights=False)
    with peft_warnings_silenced():
        model: Any = get_peft_model(copy.deepcopy(base.model), config)
    info = AdapterInfo(
        name="style", task="causal-lm", base_model="house/gpt2-pydocs", created="2026-12-01T00:00:00Z", rank=2,
        alpha=8.0, target_modules=["c_attn"], trainable_params=1, eval_metric="perplexity", metric_before=1.0,
        metric_after=1.0, steps=1, train_examples=1,
    )  # fmt: skip
    store.save("style", model.save_pretrained, info)


def test_an_adapter_shows_its_lora_share_and_leaves_the_cached_base_alone(
    cache: ModelCache, tmp_path: Path
) -> None:
    store = AdapterStore(tmp_path / "adapters", uri_prefix="adapters://")
    save_adapter(store, cache)
    base = cache.get("text-generation").model
    before = base.num_parameters()
    anatomy = inspect_model(InspectRequest(adapter="style"), adapters=store, models=cache)
    lora = 4 * 2 * (128 + 3 * 128)  # 4 layers x rank 2 x (d_in + d_out) of c_attn
    share = anatomy.adapter
    assert share is not None and share.lora_parameters == lora and share.rank == 2
    assert share.target_modules == ["c_attn"] and share.base_model == "house/gpt2-pydocs"
    assert anatomy.breakdown.total == before + lora
    assert components(anatomy.breakdown)["lora"] == lora
    assert anatomy.trainable == lora and anatomy.frozen == before
    assert share.share == pytest.approx(lora / (before + lora))
    assert anatomy.model == "house/gpt2-pydocs+adapter:style"
    assert base.num_parameters() == before and not any(".lora_" in n for n, _ in base.named_parameters())

    with pytest.raises(InvalidInputError, match="no adapters folder is configured"):
        inspect_model(InspectRequest(adapter="style"), models=cache)
    with pytest.raises(InvalidInputError, match="trained for causal-lm, not for image-classification"):
        inspect_model(
            InspectRequest(task="image-classification", adapter="style"), adapters=store, models=cache
        )
    with pytest.raises(InvalidInputError, match="no adapter named 'nope'"):
        inspect_model(InspectRequest(adapter="nope"), adapters=store, models=cache)
