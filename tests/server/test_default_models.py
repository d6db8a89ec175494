"""Operator-chosen default models through the server: the settings (variables and flags), the tool
descriptions and models://list that name them, the tools that use them, and a default that cannot be
used (one start-up warning, a tool error naming its variable, every other tool still served).

Defaults point at copies of the house models' folders: real checkpoints, milliseconds to load.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import TextResourceContents, Tool
from PIL import Image

from genai_mcp.server.app import create_server
from genai_mcp.server.cli import build_parser
from genai_mcp.server.limits import VARIABLES
from genai_mcp.server.settings import ServerSettings
from genai_mcp.tools.house import HOUSE_MODELS
from genai_mcp.tools.models.defaults import DEFAULT_MODEL_KEYS
from tests.helpers.images import b64, encode
from tests.helpers.processes import start_http_server, stop
from tests.helpers.results import ok, text_of

VARIABLE = {
    "image-classification": "GENAI_MCP_CLASSIFIER_MODEL",
    "zero-shot-image-classification": "GENAI_MCP_ZERO_SHOT_MODEL",
    "text-generation": "GENAI_MCP_TEXT_MODEL",
    "unconditional-image-generation": "GENAI_MCP_DIFFUSION_MODEL",
    "text-to-image": "GENAI_MCP_LATENT_MODEL",
    "sentence-embedding": "GENAI_MCP_EMBEDDING_MODEL",
    "text-reranking": "GENAI_MCP_RERANKER_MODEL",
}


def house_copy(name: str, to: Path) -> str:
    shutil.copytree(HOUSE_MODELS[name].path, to)
    return str(to)


def digit() -> str:
    return b64(encode(Image.new("L", (16, 16), 0)))


async def listing(client: Client) -> dict[str, Any]:
    content = (await client.read_resource("models://list")).contents[0]
    assert isinstance(content, TextResourceContents)
    data: dict[str, Any] = json.loads(content.text)
    return data


def described(tools: dict[str, Tool]) -> dict[tuple[str, str], str]:
    """(tool, "" for the tool itself or a parameter) -> its published description."""
    texts = {(name, ""): tool.description or "" for name, tool in tools.items()}
    for name, tool in tools.items():
        for param, prop in tool.input_schema["properties"].items():
            texts[(name, param)] = prop.get("description", "")
    return texts


def published(settings: ServerSettings) -> dict[str, Tool]:
    async def main() -> dict[str, Tool]:
        async with Client(create_server(settings)) as client:
            return {t.name: t for t in (await client.list_tools()).tools}

    return anyio.run(main)


# ---- settings


def test_each_task_has_a_variable_and_a_flag_and_flags_win() -> None:
    assert {task: VARIABLES[key] for task, key in DEFAULT_MODEL_KEYS.items()} == VARIABLE
    env = {
        "GENAI_MCP_CLASSIFIER_MODEL": "google/vit-base-patch16-224",
        "GENAI_MCP_TEXT_MODEL": "from-the-environment/lm",
        "GENAI_MCP_RERANKER_MODEL": "none",  # the built-in default, said out loud
        "GENAI_MCP_EMBEDDING_MODEL": "   ",
    }
    flags = [
        "serve",
        "--text-model",
        "Qwen/Qwen2.5-0.5B-Instruct",
        "--zero-shot-model",
        "openai/clip-vit-base-patch32",
        "--diffusion-model",
        "google/ddpm-cifar10-32",
    ]
    overrides = {k: v for k, v in vars(build_parser().parse_args(flags)).items() if k != "command"}
    s = ServerSettings.load(overrides, env=env)
    assert (s.classifier_model, s.text_model) == ("google/vit-base-patch16-224", "Qwen/Qwen2.5-0.5B-Instruct")
    assert (s.zero_shot_model, s.diffusion_model) == (
        "openai/clip-vit-base-patch32",
        "google/ddpm-cifar10-32",
    )
    assert (s.embedding_model, s.reranker_model) == (None, None)
    plain = ServerSettings.load(env={})
    assert [getattr(plain, f"{n}_model") for n in ("classifier", "zero_shot", "text", "diffusion")] == [
        None
    ] * 4


# ---- descriptions


def test_descriptions_name_the_chosen_defaults_and_only_there(tmp_path: Path) -> None:
    chosen = ServerSettings(
        data_dir=tmp_path,
        classifier_model="google/vit-base-patch16-224",
        zero_shot_model="openai/clip-vit-base-patch32",
        text_model="Qwen/Qwen2.5-0.5B-Instruct",
        diffusion_model="google/ddpm-cifar10-32",
        latent_model="stabilityai/sd-turbo",
        embedding_model="sentence-transformers/all-mpnet-base-v2",
        reranker_model="cross-encoder/ms-marco-MiniLM-L-6-v2",
    )
    before = described(published(ServerSettings(data_dir=tmp_path)))
    after = described(published(chosen))
    changed = {where for where in before if before[where] != after[where]}
    assert changed == {
        ("classify_image", ""),
        ("attention_map", ""),  # its default ViT
        ("zero_shot_classify", ""),
        ("generate_text", ""),
        ("generate_text", "model"),
        ("perplexity", ""),
        ("perplexity", "model"),
        ("sample_images", ""),
        ("sample_images", "model"),
        ("denoise_image", "model"),
        ("generate_image", ""),
        *((tool, "model") for tool in ("generate_image", "edit_image", "encode_image", "decode_latent")),
        *((tool, "model") for tool in ("interpolate_images", "latent_arithmetic")),
        ("rag_index", ""),
        ("rag_index", "embedding_model"),
        ("rag_search", ""),
        ("rag_search", "reranker"),
        ("rag_answer", "reranker"),
        ("lora_finetune", ""),
        ("lora_finetune", "base_model"),
    }
    assert "default google/vit-base-patch16-224. At most 64 images" in after[("classify_image", "")]
    assert "handwritten" not in after[("classify_image", "")]  # the house model's words went with it
    assert "Default model openai/clip-vit-base-patch32. Returns" in after[("zero_shot_classify", "")]
    assert "(Qwen/Qwen2.5-0.5B-Instruct by default," in after[("generate_text", "")]
    assert (
        "'Qwen/Qwen2.5-0.5B-Instruct' (the default), a local directory" in after[("generate_text", "model")]
    )
    assert "'Qwen/Qwen2.5-0.5B-Instruct' (default)" in after[("perplexity", "model")]
    assert "default google/ddpm-cifar10-32): one model call" in after[("sample_images", "")]
    assert after[("denoise_image", "model")].endswith("Omitted: google/ddpm-cifar10-32")
    assert "(default sentence-transformers/all-mpnet-base-v2, mean pooling)" in after[("rag_index", "")]
    assert after[("rag_index", "embedding_model")].endswith(
        "or sentence-transformers/all-mpnet-base-v2 for a new one."
    )
    assert "by default cross-encoder/ms-marco-MiniLM-L-6-v2 is applied" in after[("rag_search", "")]
    assert after[("rag_search", "reranker")].endswith(
        "null: the server's default reranker cross-encoder/ms-marco-MiniLM-L-6-v2; 'none': no reranking."
    )
    assert "(task causal-lm, default Qwen/Qwen2.5-0.5B-Instruct)" in after[("lora_finetune", "")]
    assert after[("lora_finetune", "base_model")].endswith(
        "null for the server's default of the task (Qwen/Qwen2.5-0.5B-Instruct, google/vit-base-patch16-224)."
    )
    assert not any("{models." in text for text in after.values())


# ---- defaults that work


def test_local_folder_defaults_serve_calls_that_name_no_model(tmp_path: Path) -> None:
    vit = house_copy("house/vit-digits", tmp_path / "my-vit")
    lm = house_copy("house/gpt2-pydocs", tmp_path / "my-lm")
    settings = ServerSettings(data_dir=tmp_path / "data", classifier_model=vit, text_model=lm)

    async def main() -> None:
        async with Client(create_server(settings)) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert f"default {vit}. At most" in (tools["classify_image"].description or "")
            assert f"({lm} by default" in (tools["generate_text"].description or "")
            classified = ok(await client.call_tool("classify_image", {"image": digit()}))
            assert classified["model"] == str(Path(vit).resolve())
            generated = ok(await client.call_tool("generate_text", {"prompt": "def", "max_new_tokens": 2}))
            assert generated["model"] == str(Path(lm).resolve())
            named = ok(
                await client.call_tool("classify_image", {"image": digit(), "model": "house/vit-digits"})
            )
            assert named["model"] == "house/vit-digits"
            defaults = {d["task"]: d for d in (await listing(client))["defaults"]}
            assert set(defaults) == set(VARIABLE)
            assert defaults["image-classification"] == {
                "task": "image-classification",
                "model": vit,
                "setting": "GENAI_MCP_CLASSIFIER_MODEL",
                "chosen": True,
                "problem": None,
            }
            assert (defaults["text-generation"]["model"], defaults["text-generation"]["chosen"]) == (lm, True)
            zero_shot = defaults["zero-shot-image-classification"]
            assert (zero_shot["model"], zero_shot["chosen"]) == ("house/clip-digits", False)
            assert defaults["sentence-embedding"]["model"] == "all-MiniLM-L6-v2"
            assert defaults["text-reranking"]["model"] is None

    anyio.run(main)


# ---- defaults that cannot be used


def test_an_unavailable_default_is_one_start_up_warning_and_a_tool_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = str(tmp_path / "no-such-folder")
    settings = ServerSettings(
        data_dir=tmp_path / "data",
        classifier_model=missing,
        text_model="genai-mcp-tests/not-downloaded",  # downloads are off
        diffusion_model=house_copy("house/vit-digits", tmp_path / "a-classifier"),  # the wrong kind
    )
    caplog.set_level(logging.WARNING, logger="genai_mcp.server.state")

    async def main() -> None:
        async with Client(create_server(settings)) as client:
            warnings = [r for r in caplog.records if r.name == "genai_mcp.server.state"]
            assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
            line = warnings[0].getMessage()
            assert "\n" not in line
            for variable in (
                "GENAI_MCP_CLASSIFIER_MODEL",
                "GENAI_MCP_TEXT_MODEL",
                "GENAI_MCP_DIFFUSION_MODEL",
            ):
                assert variable in line
            assert "does not exist" in line and "not in the local Hugging Face cache" in line
            assert "not a diffusers UNet2DModel checkpoint" in line

            calls: dict[str, tuple[str, dict[str, Any]]] = {
                "GENAI_MCP_CLASSIFIER_MODEL": ("classify_image", {"image": digit()}),
                "GENAI_MCP_TEXT_MODEL": ("generate_text", {"prompt": "def", "max_new_tokens": 2}),
                "GENAI_MCP_DIFFUSION_MODEL": ("sample_images", {"num_images": 1, "steps": 2, "seed": 0}),
            }
            for variable, (tool, args) in calls.items():
                failed = await client.call_tool(tool, args)
                assert failed.is_error, tool
                message = text_of(failed)
                assert "the server's default" in message and f"(see {variable})" in message, message

            # Everything else is served: the house defaults, a model named in the call, the metrics.
            labels = [str(i) for i in range(10)]
            ok(await client.call_tool("zero_shot_classify", {"image": digit(), "labels": labels}))
            ok(await client.call_tool("classify_image", {"image": digit(), "model": "house/vit-digits"}))
            ok(await client.call_tool("text_metrics", {"candidates": ["a b"], "references": [["a b"]]}))
            problems = {d["task"]: d["problem"] for d in (await listing(client))["defaults"]}
            assert problems["image-classification"] and "does not exist" in problems["image-classification"]
            assert problems["text-generation"] and problems["unconditional-image-generation"]
            assert problems["zero-shot-image-classification"] is None

    anyio.run(main)


def test_a_served_process_warns_once_at_start_up_and_keeps_serving(tmp_path: Path) -> None:
    missing = str(tmp_path / "gone")
    server = start_http_server(tmp_path, "--classifier-model", missing)
    try:

        async def main() -> None:
            async with Client(server.mcp_url) as client:
                failed = await client.call_tool("classify_image", {"image": digit()})
                assert failed.is_error and "(see GENAI_MCP_CLASSIFIER_MODEL)" in text_of(failed)
                ok(await client.call_tool("text_metrics", {"candidates": ["a"], "references": [["a"]]}))

        anyio.run(main)
    finally:
        stop(server.process)
    log = server.log_path.read_text()
    assert log.count("default model(s) unavailable") == 1, log  # one record, at start-up
    lines = [line for line in log.splitlines() if "default model(s) unavailable" in line]
    assert "WARNING" in lines[0], log
    # However the log handler lays a record out (it may wrap it), the record names variable and value.
    assert f"GENAI_MCP_CLASSIFIER_MODEL={missing!r}" in "".join(log.split()), log
