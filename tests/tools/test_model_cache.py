"""ModelCache and model resolution, against tiny random-weight checkpoints built in temporary folders.

Checkpoint-building happens once per module (a few hundred ms); every load goes through the real
from_pretrained path unless a test is about the cache's bookkeeping, where an injected loader
counts calls and reports chosen byte sizes.
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from genai_mcp.tools.errors import InvalidInputError, ModelUnavailableError
from genai_mcp.tools.house import HOUSE_MODELS
from genai_mcp.tools.models import (
    LoadRequest,
    ModelBundle,
    ModelCache,
    default_cache,
    load_model,
)
from tests.helpers.flights import watch_flights

# ---- tiny checkpoints


def present(value: Any) -> Any:
    """A bundle part the test knows is there (processor, scheduler), typed for mypy."""
    assert value is not None
    return value


def _byte_level_bpe(vocab_size: int = 300) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(["def main(): return a photo of the digit seven"] * 20, trainer)
    return tok


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPProcessor,
        CLIPTokenizer,
        GPT2Config,
        GPT2LMHeadModel,
        GPT2Tokenizer,
        ViTConfig,
        ViTForImageClassification,
        ViTImageProcessor,
    )

    root = tmp_path_factory.mktemp("ckpts")
    torch.manual_seed(0)
    special = {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}
    bpe = _byte_level_bpe()

    vit_cfg = ViTConfig(
        image_size=16,
        patch_size=4,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        id2label={0: "zero", 1: "one", 2: "two"},
    )
    vit_proc = ViTImageProcessor(size={"height": 16, "width": 16})
    ViTForImageClassification(vit_cfg).save_pretrained(root / "vit")
    vit_proc.save_pretrained(root / "vit")
    ViTForImageClassification(vit_cfg).half().save_pretrained(root / "vit-fp16")
    vit_proc.save_pretrained(root / "vit-fp16")

    tokenizer = GPT2Tokenizer(tokenizer_object=bpe, **special)
    gpt_cfg = GPT2Config(
        vocab_size=len(tokenizer), n_positions=32, n_embd=32, n_layer=1, n_head=2,
        bos_token_id=0, eos_token_id=0, pad_token_id=0,
    )  # fmt: skip
    GPT2LMHeadModel(gpt_cfg).save_pretrained(root / "gpt2")
    tokenizer.save_pretrained(root / "gpt2")

    clip_cfg = CLIPConfig(
        text_config={
            "vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
            "num_attention_heads": 2, "max_position_embeddings": 16,
            "bos_token_id": 0, "eos_token_id": 0, "pad_token_id": 0,
        },
        vision_config={
            "image_size": 16, "patch_size": 4, "hidden_size": 32, "intermediate_size": 64,
            "num_hidden_layers": 1, "num_attention_heads": 2,
        },
        projection_dim=16,
    )  # fmt: skip
    CLIPModel(clip_cfg).save_pretrained(root / "clip")
    clip_tok = CLIPTokenizer(tokenizer_object=bpe, pad_token="<|endoftext|>", **special)
    clip_img = CLIPImageProcessor(size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16})
    CLIPProcessor(image_processor=clip_img, tokenizer=clip_tok).save_pretrained(root / "clip")

    unet: Any = UNet2DModel(  # diffusers is untyped: Any keeps mypy quiet
        sample_size=8, in_channels=1, out_channels=1, layers_per_block=1, block_out_channels=(8, 16),
        norm_num_groups=4, down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
    )  # fmt: skip
    scheduler: Any = DDPMScheduler(num_train_timesteps=50, beta_schedule="squaredcos_cap_v2")
    pipeline: Any = DDPMPipeline(unet=unet, scheduler=scheduler)
    pipeline.save_pretrained(root / "ddpm")
    unet.save_pretrained(
        root / "unet-bare"
    )  # the bare layout: config.json + scheduler_config.json side by side
    scheduler.save_pretrained(root / "unet-bare")
    return {p.name: p for p in root.iterdir()}


def _image(seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (16, 16, 3), dtype=np.uint8))


@pytest.fixture
def cache() -> ModelCache:
    return ModelCache(device="cpu")


# ---- loading each task from a local directory


def test_image_classifier_loads_in_eval_float32_and_classifies(
    cache: ModelCache, ckpts: dict[str, Path]
) -> None:
    bundle = cache.get("image-classification", str(ckpts["vit"]))
    assert type(bundle.model).__name__ == "ViTForImageClassification"
    assert (bundle.source, bundle.device, bundle.dtype) == ("local", "cpu", "float32")
    assert bundle.model_id == str(ckpts["vit"].resolve()) and bundle.path == bundle.model_id
    assert not bundle.model.training
    assert all(p.dtype == torch.float32 for p in bundle.model.parameters())
    assert bundle.nbytes == sum(p.numel() * 4 for p in bundle.model.parameters()) > 0
    assert bundle.load_seconds > 0 and bundle.scheduler is None
    with torch.inference_mode():
        logits = bundle.model(**present(bundle.processor)(images=_image(), return_tensors="pt")).logits
    assert logits.shape == (1, 3)


def test_fp16_checkpoint_loads_as_float32_on_cpu(cache: ModelCache, ckpts: dict[str, Path]) -> None:
    bundle = cache.get("image-classification", str(ckpts["vit-fp16"]))
    assert {p.dtype for p in bundle.model.parameters()} == {torch.float32}


def test_causal_lm_loads_with_its_tokenizer_and_generates(cache: ModelCache, ckpts: dict[str, Path]) -> None:
    bundle = cache.get("text-generation", str(ckpts["gpt2"]))
    assert type(bundle.model).__name__ == "GPT2LMHeadModel" and not bundle.model.training
    ids = present(bundle.processor)("def main", return_tensors="pt").input_ids
    with torch.inference_mode():
        out = bundle.model.generate(ids, max_new_tokens=3, do_sample=False, pad_token_id=0)
    assert out.shape == (1, ids.shape[1] + 3)
    assert present(bundle.processor).decode(ids[0]) == "def main"


def test_clip_style_checkpoint_loads_with_its_processor(cache: ModelCache, ckpts: dict[str, Path]) -> None:
    bundle = cache.get("zero-shot-image-classification", str(ckpts["clip"]))
    assert type(bundle.model).__name__ == "CLIPModel" and not bundle.model.training
    inputs = present(bundle.processor)(
        text=["the digit", "a photo"], images=[_image()], return_tensors="pt", padding=True
    )
    with torch.inference_mode():
        assert bundle.model(**inputs).logits_per_image.shape == (1, 2)


@pytest.mark.parametrize("layout", ["ddpm", "unet-bare"])
def test_diffusion_unet_and_scheduler_come_from_the_checkpoint(
    cache: ModelCache, ckpts: dict[str, Path], layout: str
) -> None:
    bundle = cache.get("unconditional-image-generation", str(ckpts[layout]))
    assert type(bundle.model).__name__ == "UNet2DModel" and not bundle.model.training
    assert type(bundle.scheduler).__name__ == "DDPMScheduler" and bundle.processor is None
    # Values from the saved scheduler config, not the class defaults (1000 steps, linear).
    assert present(bundle.scheduler).config.num_train_timesteps == 50
    assert present(bundle.scheduler).config.beta_schedule == "squaredcos_cap_v2"
    with torch.inference_mode():
        assert bundle.model(torch.zeros(1, 1, 8, 8), 3).sample.shape == (1, 1, 8, 8)


def test_hub_id_in_the_local_hf_cache_loads_offline(
    tmp_path: Path, cache: ModelCache, ckpts: dict[str, Path]
) -> None:
    # The folder layout huggingface_hub writes: models--owner--name/{refs/main, snapshots/<commit>/...}
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--tiny-org--tiny-vit"
    shutil.copytree(ckpts["vit"], repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    cache.hub_cache_dir = tmp_path
    bundle = cache.get("image-classification", "tiny-org/tiny-vit")
    assert (bundle.source, bundle.model_id) == ("hub", "tiny-org/tiny-vit")
    assert bundle.path == str(repo / "snapshots" / commit)
    assert type(bundle.model).__name__ == "ViTForImageClassification"


# ---- errors a caller can meet


def test_uncached_hub_id_fails_fast_offline_and_says_how_to_fix(tmp_path: Path) -> None:
    import huggingface_hub  # noqa: F401  # imports are not what is timed
    import transformers  # noqa: F401

    cache = ModelCache(device="cpu", hub_cache_dir=tmp_path)
    started = time.perf_counter()
    with pytest.raises(ModelUnavailableError) as err:
        cache.get("text-generation", "someone/not-downloaded-here")
    assert time.perf_counter() - started < 5
    message = str(err.value)
    assert (
        f"model 'someone/not-downloaded-here' is not in the local Hugging Face cache ({tmp_path})" in message
    )
    assert "allow downloads" in message and "pass its local directory as model" in message
    assert "With no model, text-generation uses house/gpt2-pydocs." in message
    assert err.value.setting == "models.allow_downloads"  # a server names its variable for this key
    assert cache.loaded() == []


@pytest.mark.parametrize(
    ("task", "folder", "says"),
    [
        (
            "image-classification",
            "gpt2",
            "a gpt2 checkpoint (GPT2LMHeadModel), not a checkpoint for image-classification",
        ),
        ("image-classification", "clip", "without weights for classifier.bias"),
        ("image-classification", "ddpm", "a diffusers DDPMPipeline folder"),
        ("text-generation", "vit", "a vit checkpoint (ViTForImageClassification)"),
        ("zero-shot-image-classification", "gpt2", "CLIP-style dual encoder"),
        ("unconditional-image-generation", "vit", "diffusers UNet2DModel checkpoint"),
    ],
)
def test_wrong_kind_of_checkpoint_names_task_and_expectation(
    cache: ModelCache, ckpts: dict[str, Path], task: str, folder: str, says: str
) -> None:
    with pytest.raises(ModelUnavailableError) as err:
        cache.get(task, str(ckpts[folder]))
    assert says in str(err.value) and f"{task} expects" in str(err.value)
    assert cache.loaded() == []


def test_house_model_of_another_task_is_refused_before_loading(cache: ModelCache) -> None:
    with pytest.raises(ModelUnavailableError, match="house/gpt2-pydocs is a text-generation model"):
        cache.get("image-classification", "house/gpt2-pydocs")


@pytest.mark.parametrize(
    ("model", "error", "says"),
    [
        ("../x", InvalidInputError, "'..' path component"),
        ("models/../../etc", InvalidInputError, "'..' path component"),
        ("", InvalidInputError, "empty"),
        ("   ", InvalidInputError, "empty"),
        ("a" * 5000, InvalidInputError, "over the limit of 1024"),
        ("gpt\x002", InvalidInputError, "control characters"),
        ("https://huggingface.co/gpt2", InvalidInputError, "URL"),
        ("owner/na me", InvalidInputError, "neither an existing directory nor a valid hub id"),
        ("owner--x/y", InvalidInputError, "neither an existing directory nor a valid hub id"),
        ("house/nope", InvalidInputError, "unknown house model"),
        ("/no/such/model/dir", ModelUnavailableError, "does not exist"),
        ("./missing-dir", ModelUnavailableError, "does not exist"),
    ],
)
def test_bad_model_ids_are_refused(cache: ModelCache, model: str, error: type[Exception], says: str) -> None:
    with pytest.raises(error, match=says):
        cache.get("text-generation", model)


@pytest.mark.parametrize(
    ("kwargs", "error", "says"),
    [
        (
            {"task": "translation"},
            InvalidInputError,
            "unknown task 'translation'; allowed: image-classification",
        ),
        ({"device": "tpu"}, InvalidInputError, "allowed: auto, cpu, cuda, cuda:N"),
        ({"device": "cuda:99"}, ModelUnavailableError, "torch sees"),
        ({"dtype": "int8"}, InvalidInputError, "allowed: bfloat16, float16, float32"),
        ({"dtype": "float16", "device": "cpu"}, InvalidInputError, "not supported on cpu"),
    ],
)
def test_bad_task_device_dtype_are_refused(
    cache: ModelCache, ckpts: dict[str, Path], kwargs: dict[str, str], error: type[Exception], says: str
) -> None:
    args = {"task": "image-classification", "model": str(ckpts["vit"]), **kwargs}
    with pytest.raises(error, match=says):
        cache.get(**args)


def test_local_roots_confine_model_directories(ckpts: dict[str, Path], tmp_path: Path) -> None:
    cache = ModelCache(device="cpu", local_roots=[tmp_path])
    with pytest.raises(InvalidInputError, match="outside the allowed roots"):
        cache.get("image-classification", str(ckpts["vit"]))
    inside = shutil.copytree(ckpts["vit"], tmp_path / "vit")
    assert cache.get("image-classification", str(inside)).source == "local"


# ---- cache bookkeeping, with a loader that counts


class CountingLoader:
    """Stands in for from_pretrained: records each request, reports `sizes[model_id]` bytes."""

    def __init__(self, sizes: dict[str, int] | None = None, fail_first: int = 0) -> None:
        self.calls: list[LoadRequest] = []
        self.sizes = sizes or {}
        self.fail_first = fail_first
        self.gate = threading.Event()  # loads of `gated` ids wait for it
        self.entered = threading.Event()  # set when a load of a gated id has started
        self.gated: set[str] = set()

    def __call__(self, request: LoadRequest) -> ModelBundle:
        self.calls.append(request)
        if request.model_id in self.gated:
            self.entered.set()
            assert self.gate.wait(30), "test never opened the gate"
        if len(self.calls) <= self.fail_first:
            raise ModelUnavailableError(f"load {len(self.calls)} failed")
        return ModelBundle(
            model_id=request.model_id, task=request.task, device=request.device, dtype=request.dtype,
            model=torch.nn.Linear(1, 1), processor=None, scheduler=None, source=request.source,
            nbytes=self.sizes.get(request.model_id, 100), load_seconds=0.0,
        )  # fmt: skip


def _ids(cache: ModelCache) -> list[str]:
    return [Path(info.id).name for info in cache.loaded()]


def test_hit_returns_the_same_object_and_counts_hits(ckpts: dict[str, Path]) -> None:
    loader = CountingLoader()
    cache = ModelCache(device="cpu", loader=loader)
    first = cache.get("image-classification", str(ckpts["vit"]))
    assert cache.get("image-classification", str(ckpts["vit"]) + "/") is first  # same directory, same key
    assert cache.get("image-classification", str(ckpts["vit"]), device=" CPU") is first  # normalised
    assert len(loader.calls) == 1
    (info,) = cache.loaded()
    assert (info.hits, info.task, info.source, info.nbytes) == (2, "image-classification", "local", 100)
    assert info.as_dict()["id"] == info.model_id == str(ckpts["vit"].resolve())


def test_key_includes_dtype_and_task(ckpts: dict[str, Path]) -> None:
    loader = CountingLoader()
    cache = ModelCache(device="cpu", loader=loader)
    fp32 = cache.get("image-classification", str(ckpts["vit"]))
    bf16 = cache.get("image-classification", str(ckpts["vit"]), dtype="bf16")
    other_task = cache.get("text-generation", str(ckpts["vit"]))
    assert len({id(fp32), id(bf16), id(other_task)}) == 3
    assert [(c.task, c.dtype) for c in loader.calls] == [
        ("image-classification", "float32"),
        ("image-classification", "bfloat16"),
        ("text-generation", "float32"),
    ]


def test_real_bfloat16_load_is_a_separate_entry(cache: ModelCache, ckpts: dict[str, Path]) -> None:
    fp32 = cache.get("image-classification", str(ckpts["vit"]))
    bf16 = cache.get("image-classification", str(ckpts["vit"]), dtype="bfloat16")
    assert {p.dtype for p in bf16.model.parameters()} == {torch.bfloat16}
    assert bf16.nbytes * 2 == fp32.nbytes
    assert sorted(i.dtype for i in cache.loaded()) == ["bfloat16", "float32"]


def test_lru_eviction_by_count(ckpts: dict[str, Path]) -> None:
    loader = CountingLoader()
    cache = ModelCache(device="cpu", max_models=2, loader=loader)
    cache.get("image-classification", str(ckpts["vit"]))
    cache.get("text-generation", str(ckpts["gpt2"]))
    cache.get("image-classification", str(ckpts["vit"]))  # vit is now the most recently used
    cache.get("zero-shot-image-classification", str(ckpts["clip"]))
    assert _ids(cache) == ["clip", "vit"]
    cache.get("text-generation", str(ckpts["gpt2"]))  # evicted before, so loaded again
    assert len(loader.calls) == 4 and _ids(cache) == ["gpt2", "clip"]


def test_lru_eviction_by_bytes_and_when_bounds_are_lowered(ckpts: dict[str, Path]) -> None:
    sizes = {
        str(ckpts[n].resolve()): size
        for n, size in [("vit", 400), ("gpt2", 500), ("clip", 300), ("ddpm", 5000)]
    }
    cache = ModelCache(device="cpu", max_bytes=1000, loader=CountingLoader(sizes))
    cache.get("image-classification", str(ckpts["vit"]))
    cache.get("text-generation", str(ckpts["gpt2"]))
    assert cache.nbytes == 900
    cache.get("zero-shot-image-classification", str(ckpts["clip"]))  # 1200 > 1000: vit goes
    assert _ids(cache) == ["clip", "gpt2"] and cache.nbytes == 800
    cache.configure(max_models=1)
    assert _ids(cache) == ["clip"]
    # A model bigger than the whole bound is kept alone rather than reloaded on every call.
    big = cache.get("unconditional-image-generation", str(ckpts["ddpm"]))
    assert _ids(cache) == ["ddpm"]
    assert cache.get("unconditional-image-generation", str(ckpts["ddpm"])) is big


def test_concurrent_first_calls_load_once_and_other_keys_are_not_blocked(
    ckpts: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    flights = watch_flights(monkeypatch)
    loader = CountingLoader()
    loader.gated.add(str(ckpts["vit"].resolve()))
    cache = ModelCache(device="cpu", loader=loader)
    results: list[ModelBundle] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get("image-classification", str(ckpts["vit"]))))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    # One thread is inside the loader, the other three wait on its load.
    assert loader.entered.wait(30) and flights.wait_for(3)
    assert len(loader.calls) == 1 and [f["waiters"] for f in cache.loading()] == [3]
    # A different key runs its own load while the first is still blocked.
    assert cache.get("text-generation", str(ckpts["gpt2"])).task == "text-generation"
    assert [f["task"] for f in cache.loading()] == ["image-classification"]
    loader.gate.set()
    for t in threads:
        t.join(10)
    assert len(results) == 4 and all(r is results[0] for r in results)
    assert [c.task for c in loader.calls] == ["image-classification", "text-generation"]
    assert cache.loaded()[0].hits == 0  # the three waiters got the one load, not a cache hit


def test_a_failed_load_is_not_cached_and_waiters_see_the_error(
    ckpts: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    flights = watch_flights(monkeypatch)
    loader = CountingLoader(fail_first=1)
    loader.gated.add(str(ckpts["vit"].resolve()))
    cache = ModelCache(device="cpu", loader=loader)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            cache.get("image-classification", str(ckpts["vit"]))
        except ModelUnavailableError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    assert loader.entered.wait(30) and flights.wait_for(1)
    loader.gate.set()
    for t in threads:
        t.join(10)
    assert [str(e) for e in errors] == ["load 1 failed", "load 1 failed"]
    assert cache.loaded() == [] and cache.loading() == []
    loader.gated.clear()
    assert cache.get("image-classification", str(ckpts["vit"])).nbytes == 100
    assert len(loader.calls) == 2


# ---- caches: each its own, the default one plain


def test_default_cache_has_plain_defaults_whatever_the_environment() -> None:
    code = (
        "import genai_mcp.tools.models as m; c = m.default_cache(); "
        "print(c is m.default_cache(), c.max_models, c.max_bytes, c.allow_downloads, c.device, c.hub_cache_dir)"
    )
    env = {
        **os.environ,
        "GENAI_MCP_ALLOW_DOWNLOADS": "1",
        "GENAI_MCP_DEVICE": "cuda:3",
        "GENAI_MCP_CACHE_MAX_MODELS": "1",
        "GENAI_MCP_CACHE_MAX_BYTES": "oops",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60, env=env
    )
    assert out.stdout.split() == ["True", "6", str(4 * 2**30), "False", "auto", "None"]


def test_two_caches_share_nothing_and_configure_refuses_bad_values(ckpts: dict[str, Path]) -> None:
    one, two = (
        ModelCache(device="cpu", loader=CountingLoader()),
        ModelCache(device="cpu", loader=CountingLoader()),
    )
    assert len(one) == 0 and bool(one) is True  # empty, still a cache: `models or default_cache()` keeps it
    first = one.get("image-classification", str(ckpts["vit"]))
    assert two.get("image-classification", str(ckpts["vit"])) is not first and len(one) == len(two) == 1
    one.configure(max_models=3, max_bytes=2**20, allow_downloads=True, device="cpu")
    assert (one.max_models, one.max_bytes, one.allow_downloads) == (3, 2**20, True)
    assert (two.max_models, two.allow_downloads) == (6, False)
    with pytest.raises(InvalidInputError, match="max_models must be an integer of at least 1"):
        one.configure(max_models=0)
    with pytest.raises(ModelUnavailableError, match="torch sees"):
        one.configure(device="cuda:99")
    with pytest.raises(ModelUnavailableError, match="torch sees"):
        ModelCache(device="cuda:99")


def test_importing_the_package_does_not_import_torch() -> None:
    code = (
        "import sys, genai_mcp.tools.models as m; m.ModelCache(); "
        "print(sorted({n.split('.')[0] for n in sys.modules} & {'torch', 'transformers', 'diffusers'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


# ---- the house models, by name and by folder


def _house_outputs(bundle: ModelBundle) -> Any:
    torch.manual_seed(0)
    with torch.inference_mode():
        if bundle.task == "image-classification":
            return bundle.model(
                **present(bundle.processor)(images=[_image(1), _image(2)], return_tensors="pt")
            ).logits
        if bundle.task == "zero-shot-image-classification":
            texts = [f"a photo of the digit {d}" for d in range(10)]
            inputs = present(bundle.processor)(
                text=texts, images=[_image(1)], return_tensors="pt", padding=True
            )
            return bundle.model(**inputs).logits_per_image
        if bundle.task == "text-generation":
            ids = present(bundle.processor)("def open(file, mode='r'):", return_tensors="pt").input_ids
            return bundle.model(ids).logits
        if bundle.task == "text-to-image":  # a pipeline: one UNet call on the prompt's embeddings
            pipe = bundle.model
            ids = pipe.tokenizer(
                "a handwritten digit seven", padding="max_length", return_tensors="pt"
            ).input_ids
            unet = pipe.unet.config
            latents = torch.randn(1, unet.in_channels, unet.sample_size, unet.sample_size)
            return pipe.unet(latents, 10, encoder_hidden_states=pipe.text_encoder(ids)[0]).sample
        size = bundle.model.config.sample_size
        sample = torch.randn(1, bundle.model.config.in_channels, size, size)
        return bundle.model(sample, 10).sample


@pytest.mark.parametrize("name", sorted(HOUSE_MODELS))
def test_house_model_loads_by_name_and_matches_its_folder(name: str) -> None:
    house = HOUSE_MODELS[name]
    by_name = load_model(house.task, name, device="cpu")  # type: ignore[arg-type]
    assert (by_name.model_id, by_name.source, by_name.dtype) == (name, "house", "float32")
    assert load_model(house.task, device="cpu") is by_name  # type: ignore[arg-type]  # the default for its task
    assert default_cache().get(house.task, name, device="cpu") is by_name  # models=None: the default cache
    own = ModelCache(device="cpu")
    assert load_model(house.task, name, models=own) is not by_name and len(own) == 1  # type: ignore[arg-type]
    by_folder = ModelCache(device="cpu").get(house.task, str(house.path))
    assert by_folder.source == "local" and by_folder.model is not by_name.model
    assert torch.equal(_house_outputs(by_name), _house_outputs(by_folder))
    if house.task == "unconditional-image-generation":
        assert present(by_name.scheduler).config == present(by_folder.scheduler).config


def test_freeze_gc_freezes_the_heap_after_each_load_and_only_when_asked(ckpts: dict[str, Path]) -> None:
    gc.unfreeze()
    try:
        ModelCache(device="cpu", loader=CountingLoader()).get("image-classification", str(ckpts["vit"]))
        assert gc.get_freeze_count() == 0  # a library user's gc is left alone
        cache = ModelCache(device="cpu", loader=CountingLoader(), freeze_gc=True)
        bundle = cache.get("image-classification", str(ckpts["vit"]))
        assert gc.get_freeze_count() > 0
        # The loaded model is out of the generations full collections walk.
        assert not any(obj is bundle.model for obj in gc.get_objects())
    finally:
        gc.unfreeze()
