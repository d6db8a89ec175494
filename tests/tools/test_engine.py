"""generate_on_engine against a real `transformers serve` with the house GPT-2 (tests/helpers/engine.py):
the same text as in-process generation, progress per token, cancellation, stop strings, chat, and
each failure an EngineError naming the URL, never the key."""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from genai_mcp.tools.errors import EngineError, InvalidInputError, LimitExceededError, WorkCancelledError
from genai_mcp.tools.text import ChatMessage, GenerateTextRequest, TextLimits, generate_text
from genai_mcp.tools.text.engine import Engine, generate_on_engine
from genai_mcp.tools.text.schemas import PLAIN_CHAT_TEMPLATE
from tests.helpers.engine import ENGINE_MODEL, RunningEngine
from tests.helpers.fake_openai import serve_fake_openai

REPO = Path(__file__).resolve().parents[2]
CHAT = [
    ChatMessage(role="system", content="Be brief."),
    ChatMessage(role="user", content="What is a list?"),
]


@pytest.mark.parametrize(
    "fields",
    [
        {"prompt": "def read_file(path):", "max_new_tokens": 40},  # ends with an eos
        {"prompt": "The list type", "max_new_tokens": 24},  # runs to the budget
        {"prompt": "The list", "max_new_tokens": 16, "repetition_penalty": 1.3},  # as frequency_penalty
        {"prompt": "def read_file(path):", "max_new_tokens": 40, "stop": ["file", "zzz"]},
        {"messages": CHAT, "max_new_tokens": 12},  # the house chat template, applied by the engine
    ],
)
def test_greedy_on_the_engine_equals_in_process(
    running_engine: RunningEngine, fields: dict[str, Any]
) -> None:
    request = GenerateTextRequest(temperature=0, **fields)
    here = generate_text(request)
    there = generate_on_engine(request, running_engine.engine())
    same = ("text", "finish_reason", "stop_string", "prompt_tokens", "completion_tokens", "prompt_format")
    assert {k: getattr(there, k) for k in same} == {k: getattr(here, k) for k in same}
    assert there.model == ENGINE_MODEL and there.seed is None and there.tokens_per_second > 0


def test_progress_per_token_and_a_seed_reproduces(running_engine: RunningEngine) -> None:
    calls: list[tuple[int, int | None]] = []
    request = GenerateTextRequest(prompt="The list type", max_new_tokens=12, temperature=0.8, seed=7)
    first = generate_on_engine(request, running_engine.engine(), lambda d, t, m=None: calls.append((d, t)))
    assert first.finish_reason == "length" and first.seed == 7
    assert calls == [(i, 12) for i in range(1, 13)]  # one event per token from transformers serve
    assert generate_on_engine(request, running_engine.engine()).text == first.text


def test_cancel_closes_the_stream_at_once(running_engine: RunningEngine) -> None:
    def cancel_at_3(done: int, total: int | None, message: str | None = None) -> None:
        if done == 3:
            raise WorkCancelledError("the caller cancelled")

    request = GenerateTextRequest(prompt="The list type", max_new_tokens=200, temperature=0)
    started = time.perf_counter()
    cancelled = generate_on_engine(request, running_engine.engine(), cancel_at_3)
    assert cancelled.finish_reason == "cancelled" and cancelled.completion_tokens == 3
    assert cancelled.text == generate_text(request.model_copy(update={"max_new_tokens": 3})).text
    # 200 tokens take the engine ~1 s here; the stream was dropped after 3 of them.
    assert time.perf_counter() - started < 1.0
    assert generate_on_engine(request.model_copy(update={"max_new_tokens": 2}), running_engine.engine()).text


def test_refusals_before_anything_is_sent(running_engine: RunningEngine) -> None:
    engine = running_engine.engine(flavor="openai")
    with pytest.raises(LimitExceededError) as over:
        generate_on_engine(GenerateTextRequest(prompt="x", max_new_tokens=9), engine, limits=TextLimits(8))
    assert over.value.setting == "text.max_new_tokens"
    with pytest.raises(InvalidInputError, match=r"top_k=5 cannot be sent .* \(flavor 'openai'") as flavor:
        generate_on_engine(GenerateTextRequest(prompt="x", temperature=1, top_k=5), engine)
    assert flavor.value.setting == "text.engine_flavor"
    with pytest.raises(InvalidInputError, match=r"repetition_penalty=1\.2 cannot be sent"):
        generate_on_engine(GenerateTextRequest(prompt="x", repetition_penalty=1.2), engine)
    with pytest.raises(
        InvalidInputError, match="truncate_prompt and use_cache=false need the model in-process"
    ):
        generate_on_engine(GenerateTextRequest(prompt="x", truncate_prompt=True), engine)


def test_engine_failures_name_the_url_never_the_key(running_engine: RunningEngine) -> None:
    key = "sk-secret-4242"
    # An HTTP 400 from the real engine: it serves one model and refuses any other name.
    with_userinfo = running_engine.url.replace("http://", "http://admin:pw@")
    engine = Engine(with_userinfo, "other-model", api_key=key)
    with pytest.raises(EngineError) as refused:
        generate_on_engine(GenerateTextRequest(prompt="x"), engine)
    text = str(refused.value)
    assert text.startswith(f"HTTP 400 from {running_engine.url}/completions: Server is pinned to")
    assert key not in text and "pw" not in text and refused.value.setting == "text.engine_url"

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{closed.getsockname()[1]}/v1"
    with pytest.raises(EngineError, match=rf"cannot reach the inference engine at {down}/completions"):
        generate_on_engine(GenerateTextRequest(prompt="x"), Engine(down, ENGINE_MODEL, api_key=key))

    # A slow engine: the connection is accepted (the listen backlog) and nothing ever answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        slow = Engine(f"http://127.0.0.1:{silent.getsockname()[1]}/v1", ENGINE_MODEL, timeout_seconds=0.3)
        with pytest.raises(EngineError, match=r"/v1/chat/completions sent nothing for 0.3 s") as late:
            generate_on_engine(GenerateTextRequest(messages=CHAT), slow)
    assert late.value.setting == "text.engine_timeout_seconds"


def test_a_malformed_stream_is_an_engine_error() -> None:
    # The fake: no real engine can be made to send an event that is not JSON.
    with serve_fake_openai() as fake:
        with pytest.raises(EngineError, match=r"sent an event that is not JSON: '\{not json'"):
            generate_on_engine(GenerateTextRequest(prompt="x"), Engine(fake.url, "m"))


def test_the_house_chat_template_is_the_one_its_training_script_writes(tmp_path: Path) -> None:
    config = json.loads((Path(ENGINE_MODEL) / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["chat_template"] == PLAIN_CHAT_TEMPLATE
    spec = importlib.util.spec_from_file_location("train_gpt2", REPO / "scripts" / "train_gpt2.py")
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    sys.modules["train_gpt2"] = script  # dataclasses look their module up while the script loads
    try:
        spec.loader.exec_module(script)
        tokenizer = script.train_tokenizer(["def f(x):\n    return x\n"] * 20, 300)
        tokenizer.save_pretrained(tmp_path, save_jinja_files=False)
    finally:
        del sys.modules["train_gpt2"]
    written = json.loads((tmp_path / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert written["chat_template"] == PLAIN_CHAT_TEMPLATE
    assert not (tmp_path / "chat_template.jinja").exists()
