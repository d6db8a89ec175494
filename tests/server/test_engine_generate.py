"""generate_text through the MCP face with GENAI_MCP_TEXT_ENGINE_URL set: the call goes to a real
`transformers serve` (tests/helpers/engine.py), progress reaches the client, the descriptions say
where generation runs, and an engine that goes away is a clear tool error while in-process tools
keep working."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from genai_mcp.server.app import create_server
from genai_mcp.server.settings import ServerSettings, SettingsError
from genai_mcp.server.text_tools import engine_of
from genai_mcp.tools.text import GenerateTextRequest, generate_text
from genai_mcp.tools.text.engine import Engine
from tests.helpers.engine import ENGINE_MODEL, RunningEngine, engine_command, start_engine, stop
from tests.helpers.results import call_ok, run_client, text_of

PROMPT = "def read_file(path):"
REPO = Path(__file__).resolve().parents[2]


def on_engine(tmp_path: Path, url: str, **extra: Any) -> ServerSettings:
    return ServerSettings(
        data_dir=tmp_path,
        text_engine_url=url,
        text_engine_model=ENGINE_MODEL,
        text_engine_flavor="transformers",
        **extra,
    )


def test_generate_text_runs_on_the_engine(running_engine: RunningEngine, tmp_path: Path) -> None:
    server = create_server(on_engine(tmp_path, running_engine.url))
    expected = generate_text(GenerateTextRequest(prompt=PROMPT, max_new_tokens=24, temperature=0))

    async def check(client: Client) -> None:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        described = tools["generate_text"].description or ""
        assert "runs on an OpenAI-compatible inference engine (transformers flavor)" in described
        assert f"(default {ENGINE_MODEL})" in described
        assert tools["generate_text"].annotations and tools["generate_text"].annotations.open_world_hint
        assert "runs in-process" in (tools["perplexity"].description or "")

        seen: list[tuple[float, float | None]] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append((progress, total))

        args = {"prompt": PROMPT, "max_new_tokens": 24, "temperature": 0}
        result = await client.call_tool("generate_text", args, progress_callback=on_progress)
        assert not result.is_error, text_of(result)
        got = result.structured_content
        assert got is not None
        assert (got["text"], got["finish_reason"], got["completion_tokens"]) == (
            expected.text,
            expected.finish_reason,
            expected.completion_tokens,
        )
        assert got["model"] == ENGINE_MODEL and got["prompt_tokens"] == expected.prompt_tokens
        # Coalesced by server/longwork.py, increasing; an eos ends the bar at the budget.
        assert seen and [s[0] for s in seen] == sorted({s[0] for s in seen}) and seen[-1] == (24, 24)

        chat = [{"role": "user", "content": "What is a list?"}]
        answered = await call_ok(client, "generate_text", {"messages": chat, "max_new_tokens": 6})
        assert answered["prompt_format"] == "chat_template" and answered["prompt_tokens"] == 15
        refused = await client.call_tool("generate_text", {"prompt": "x", "truncate_prompt": True})
        assert refused.is_error and "need the model in-process" in text_of(refused)

    run_client(server, check)


def test_an_engine_stopped_mid_test_is_a_clear_error_and_in_process_tools_still_work(tmp_path: Path) -> None:
    engine = start_engine(tmp_path)  # its own: this test stops it
    server = create_server(on_engine(tmp_path / "data", engine.url))

    async def check(client: Client) -> None:
        args = {"prompt": PROMPT, "max_new_tokens": 4, "temperature": 0}
        assert (await call_ok(client, "generate_text", args))["completion_tokens"] == 4
        stop(engine.process)
        gone = await client.call_tool("generate_text", args)
        assert gone.is_error
        assert f"cannot reach the inference engine at {engine.url}/completions" in text_of(gone)
        assert "(see GENAI_MCP_TEXT_ENGINE_URL)" in text_of(gone)
        scored = await call_ok(client, "perplexity", {"text": "Return the list of names."})
        assert scored["token_count"] > 0 and scored["model"] == "house/gpt2-pydocs"

    try:
        run_client(server, check)
    finally:
        stop(engine.process)


def test_engine_settings_are_checked_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="GENAI_MCP_TEXT_ENGINE_MODEL must name the engine's model"):
        ServerSettings.load(env={"GENAI_MCP_TEXT_ENGINE_URL": "http://127.0.0.1:9/v1"})
    key_file = tmp_path / "engine-key"
    key_file.write_text("sk-from-file\n", encoding="utf-8")
    settings = on_engine(tmp_path, "http://127.0.0.1:9/v1", text_engine_api_key_file=key_file)
    assert settings.text_engine_key() == "sk-from-file"
    with pytest.raises(SettingsError, match="cannot read the engine key file"):
        on_engine(
            tmp_path, "http://127.0.0.1:9/v1", text_engine_api_key_file=tmp_path / "none"
        ).text_engine_key()


def test_the_readme_engine_example_is_what_the_tests_run() -> None:
    # The README's worked example, checked line by line rather than typed into a shell (each engine
    # start costs 10-35 s here): its command is the one these tests start, its settings build the
    # Engine they test.
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Text generation on an inference engine\n", 1)[1].split("\n## ", 1)[0]
    block = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)[0].replace("$PWD", str(REPO))
    serve, server = block.split(" &\n")
    assert shlex.split(serve) == ["transformers", *engine_command(8001)[1:]]
    *assignments, command, subcommand = shlex.split(server.replace("\\\n", " "))
    assert (command, subcommand) == ("genai-mcp", "serve")
    env = dict(a.split("=", 1) for a in assignments)
    engine = engine_of(ServerSettings.load(env=env))
    assert engine == Engine("http://127.0.0.1:8001/v1", ENGINE_MODEL, flavor="transformers")
