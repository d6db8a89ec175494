"""generate_text and perplexity through an MCP client, on the house GPT-2."""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server import MCPServer

from genai_mcp.server.app import create_server
from genai_mcp.server.settings import ServerSettings
from genai_mcp.tools.text import generate as generate_module
from genai_mcp.tools.text.generate import Decoded
from tests.helpers.results import text_of

PROMPT = "The for statement is used to iterate over"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> MCPServer[Any]:
    settings = ServerSettings(
        data_dir=tmp_path_factory.mktemp("text-tools"), log_level="WARNING", max_text_chars=20_000
    )
    return create_server(settings)


@pytest.fixture(scope="module")
def lm() -> Any:
    from genai_mcp.tools.models import load_model

    return load_model("text-generation")


async def _call(client: Client, name: str, args: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    result = await client.call_tool(name, args, **kwargs)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return dict(result.structured_content)


def test_listed_with_annotations_and_the_stop_rule_in_the_schema(server: MCPServer[Any]) -> None:
    async def main() -> None:
        async with Client(server) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            gen, ppl = tools["generate_text"], tools["perplexity"]
            assert gen.annotations is not None and ppl.annotations is not None
            assert (gen.annotations.read_only_hint, gen.annotations.idempotent_hint) == (True, False)
            assert (ppl.annotations.read_only_hint, ppl.annotations.idempotent_hint) == (True, True)
            props = gen.input_schema["properties"]
            assert "ctx" not in props and {
                "prompt",
                "messages",
                "seed",
                "stop",
                "use_cache",
                "adapter",
            } <= set(props)
            assert "not included" in props["stop"]["description"]
            assert "evaluation metric" in (ppl.title or "").lower()
            assert gen.output_schema is not None and "finish_reason" in gen.output_schema["properties"]

    anyio.run(main)


def test_greedy_equals_transformers_generate_with_and_without_cache(server: MCPServer[Any], lm: Any) -> None:
    import torch

    x = torch.tensor([lm.processor(PROMPT).input_ids])
    out = lm.model.generate(
        input_ids=x,
        attention_mask=torch.ones_like(x),
        max_new_tokens=16,
        do_sample=False,
        pad_token_id=lm.processor.eos_token_id,
    )
    expected = lm.processor.decode(out[0, x.shape[1] :], skip_special_tokens=True)

    async def main() -> None:
        async with Client(server) as client:
            seen: list[tuple[float, float | None]] = []

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                seen.append((progress, total))

            args = {"prompt": PROMPT, "max_new_tokens": 16, "temperature": 0}
            cached = await _call(client, "generate_text", args, progress_callback=on_progress)
            full = await _call(client, "generate_text", {**args, "use_cache": False})
            assert cached["text"] == full["text"] == expected
            assert cached["model"] == "house/gpt2-pydocs" and cached["seed"] is None
            assert cached["prompt_tokens"] == x.shape[1] and cached["tokens_per_second"] > 0
            steps = cached["completion_tokens"] - (cached["finish_reason"] == "eos")
            # Coalesced (server/longwork.py): increasing, ending at the last step decoded.
            assert [s[0] for s in seen] == sorted({s[0] for s in seen})
            assert seen[-1] == (steps, 16) and {s[1] for s in seen} == {16}

    anyio.run(main)


def test_seed_reproduces_sampling_and_stop_strings_cut_the_text(server: MCPServer[Any]) -> None:
    async def main() -> None:
        async with Client(server) as client:
            args = {"prompt": PROMPT, "max_new_tokens": 24, "temperature": 0.9, "top_k": 40, "top_p": 0.95}
            a = await _call(client, "generate_text", {**args, "seed": 11})
            b = await _call(client, "generate_text", {**args, "seed": 11})
            c = await _call(client, "generate_text", {**args, "seed": 12})
            assert a["text"] == b["text"] and a["seed"] == 11
            assert c["text"] != a["text"]
            drawn = await _call(client, "generate_text", args)
            again = await _call(client, "generate_text", {**args, "seed": drawn["seed"]})
            assert again["text"] == drawn["text"]

            stop = a["text"][8:11]
            stopped = await _call(client, "generate_text", {**args, "seed": 11, "stop": [stop]})
            assert stopped["text"] == a["text"][: a["text"].find(stop)]
            assert (stopped["finish_reason"], stopped["stop_string"]) == ("stop", stop)

    anyio.run(main)


class DecodingWatch:
    """Watches the server's decoding loop from outside, without changing what it does.

    `wrap(decode_tokens)` is the same loop, plus: a forward pre-hook on the model counts the forward
    passes made by the decoding thread (one per step; other threads using the model are not
    counted), and when the loop returns, `decoded` holds its result and `ended` is set.
    """

    def __init__(self) -> None:
        self.forwards = 0
        self.decoded: Decoded | None = None
        self.ended = threading.Event()

    def wrap(self, decode: Callable[..., Decoded]) -> Callable[..., Decoded]:
        def watched(model: Any, *args: Any, **kwargs: Any) -> Decoded:
            thread = threading.get_ident()

            def count(module: Any, inputs: Any) -> None:
                if threading.get_ident() == thread:
                    self.forwards += 1

            hook = model.register_forward_pre_hook(count)
            try:
                self.decoded = decode(model, *args, **kwargs)
                return self.decoded
            finally:
                hook.remove()
                self.ended.set()

        return watched


def test_cancel_stops_a_long_generation_within_a_step_and_the_server_carries_on(
    server: MCPServer[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = DecodingWatch()

    async def main() -> None:
        async with Client(server) as client:
            seen: list[float] = []
            started = anyio.Event()

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                seen.append(progress)
                if len(seen) == 3:
                    started.set()

            # Without the cache each step recomputes the whole sequence: a long, slow generation.
            args = {"prompt": PROMPT, "max_new_tokens": 1000, "temperature": 0, "use_cache": False}
            with monkeypatch.context() as patch:
                patch.setattr(generate_module, "decode_tokens", watch.wrap(generate_module.decode_tokens))
                async with anyio.create_task_group() as tg:
                    tg.start_soon(
                        lambda: client.call_tool("generate_text", args, progress_callback=on_progress)
                    )
                    await started.wait()
                    # The event loop is free: another request is answered while the generation runs.
                    metric = await _call(client, "perplexity", {"text": PROMPT})
                    assert metric["token_count"] > 0
                    assert not watch.ended.is_set(), "the generation should still be running"
                    at_cancel = watch.forwards
                    tg.cancel_scope.cancel()

                # The worker thread was abandoned by the cancelled call; it must still stop on its own.
                assert await anyio.to_thread.run_sync(watch.ended.wait, 20), "the worker kept decoding"
            assert watch.decoded is not None and watch.decoded.finish_reason == "cancelled"
            # One token per forward; the cancel takes a step or two to reach the worker.
            stopped_at = len(watch.decoded.token_ids)
            assert stopped_at == watch.forwards and stopped_at <= at_cancel + 2 and stopped_at < 200
            assert seen == sorted(set(seen))  # coalesced, increasing

            after = await _call(client, "generate_text", {"prompt": PROMPT, "max_new_tokens": 3})
            assert after["completion_tokens"] >= 1

    anyio.run(main)


def _corpus_sentence() -> str:
    from genai_mcp.tools.house.corpus import load_corpus, split_corpus

    _, validation = split_corpus(load_corpus())
    for doc in validation:
        for sentence in doc.replace("\n", " ").split(". "):
            words = sentence.split()
            if 12 <= len(words) <= 30 and all(w.rstrip(",").isalpha() for w in words):
                return " ".join(words) + "."
    raise AssertionError("no plain sentence in the held-out corpus")


def test_perplexity_prefers_a_corpus_sentence_to_its_shuffled_words(server: MCPServer[Any]) -> None:
    sentence = _corpus_sentence()
    words = sentence.split()
    random.Random(0).shuffle(words)
    shuffled = " ".join(words)
    assert shuffled != sentence

    async def main() -> None:
        async with Client(server) as client:
            real = await _call(client, "perplexity", {"text": sentence})
            mixed = await _call(client, "perplexity", {"text": shuffled})
            assert real["perplexity"] < mixed["perplexity"]
            assert real["perplexity"] == pytest.approx(math.exp(real["mean_nll"]), rel=1e-9)
            assert real["model"] == "house/gpt2-pydocs" and real["windows"] == 1

    anyio.run(main)


def test_bad_inputs_are_clear_errors_and_the_next_call_works(server: MCPServer[Any], tmp_path: Path) -> None:
    cases: list[tuple[str, dict[str, Any], list[str]]] = [
        (
            "generate_text",
            {"prompt": "x", "max_new_tokens": -5},
            ["max_new_tokens", "greater than or equal to 1"],
        ),
        (
            "generate_text",
            {"prompt": "x", "max_new_tokens": 10**9},
            ["max_new_tokens", "GENAI_MCP_MAX_NEW_TOKENS"],
        ),
        (
            "generate_text",
            {"prompt": "x", "temperature": -0.5},
            ["temperature", "greater than or equal to 0"],
        ),
        ("generate_text", {"prompt": "x", "temperature": 1e-9}, ["use 0 for greedy decoding"]),
        ("generate_text", {"prompt": "x", "top_p": 0}, ["top_p", "greater than 0"]),
        ("generate_text", {"prompt": "x", "top_p": 1.5}, ["top_p", "less than or equal to 1"]),
        ("generate_text", {"prompt": ""}, ["prompt", "at least 1 character"]),
        ("generate_text", {}, ["exactly one of prompt"]),
        ("generate_text", {"prompt": "x", "model": "no-such/model"}, ["no-such/model", "not in the local"]),
        ("generate_text", {"prompt": "x", "model": str(tmp_path)}, ["config.json"]),
        (
            "generate_text",
            {"prompt": "x", "adapter": "mine"},
            ["no adapter named 'mine'", "LoRA fine-tuning makes them"],
        ),
        (
            "generate_text",
            {"prompt": "x", "stop": ["s"] * 17},
            ["stop strings", "GENAI_MCP_MAX_STOP_STRINGS"],
        ),
        ("generate_text", {"prompt": "for " * 400}, ["context of 256 tokens"]),
        ("perplexity", {"text": "y" * 20_001}, ["GENAI_MCP_MAX_TEXT_CHARS"]),
        ("perplexity", {"text": "y", "model": "no-such/model"}, ["not in the local"]),
    ]

    async def main() -> None:
        async with Client(server) as client:
            for name, args, phrases in cases:
                result = await client.call_tool(name, args)
                assert result.is_error, (name, args)
                for phrase in phrases:
                    assert phrase in text_of(result), (phrase, text_of(result))
            chat = [{"role": "user", "content": "What is a list?"}]
            ok = await _call(client, "generate_text", {"messages": chat, "max_new_tokens": 2})
            assert ok["completion_tokens"] >= 1 and ok["prompt_format"] == "chat_template"

    anyio.run(main)
