"""Sampling, elicitation, logging and progress round trips through a real server's tools, in both
protocol forms: 2026-07-28 (multi round-trip requests) and 2025-11-25 (push requests)."""

from __future__ import annotations

import io
import logging

import anyio
import pytest
from mcp import MCPError
from mcp.shared.dispatcher import ProgressFnT
from mcp.types import CreateMessageRequestParams, TextContent
from rich.console import Console

from genai_mcp.client import Host, ProgressBars, ServerState, ServerStatus, Terminal
from tests.helpers.fake_openai import OPENAI_KEY, FakeOpenAI
from tests.helpers.host_entries import callbacks_entry
from tests.helpers.processes import child_pids


# The fake endpoint, not the real engine (tests/client/test_engine_sampling.py has that): these
# tests follow known answers (`echo: ...`) and the recorded request bodies through the servers'
# tools, and need a 401 for a wrong key; transformers serve checks no key and answers model text.
def openai_sampling(server: FakeOpenAI, **extra: object) -> dict[str, object]:
    return {"backend": "openai", "url": server.url, "model": "gpt-test", "api_key": "${OPENAI_KEY}", **extra}


def collect(into: list[tuple[float, float | None, str | None]]) -> ProgressFnT:
    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        into.append((progress, total, message))

    return on_progress


def test_round_trips_in_both_protocol_forms(
    openai_server: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    before = child_pids()
    sampling = openai_sampling(openai_server)
    config = {
        "mcpServers": {
            "modern": callbacks_entry("modern", protocol="auto", sampling=sampling, log_level="debug"),
            "legacy": callbacks_entry("legacy", protocol="legacy", sampling=sampling, log_level="warning"),
        },
        "defaults": {"elicitation": {"mode": "terminal"}},
    }
    typed = ["a", "job-m", "3", "", "y", "blue"]  # modern.configure: accept, then each field
    typed += ["a", "job-l", "", "", "", ""]  # legacy.configure: accept with the defaults
    typed += ["d"]  # legacy.configure_push: decline
    prompts = io.StringIO()
    terminal = Terminal(io.StringIO("\n".join(typed) + "\n"), prompts)
    connected: list[str] = []
    reports: dict[str, list[tuple[float, float | None, str | None]]] = {"modern": [], "legacy": []}
    bars_out = io.StringIO()

    def record(status: ServerStatus) -> None:
        if status.state is ServerState.CONNECTED:
            connected.append(status.name)

    async def main() -> None:
        async with Host.from_config(
            config, env={"OPENAI_KEY": OPENAI_KEY}, terminal=terminal, on_status=record
        ) as host:
            assert host.servers["modern"].protocol_version == "2026-07-28"
            assert host.servers["legacy"].protocol_version == "2025-11-25"

            # Sampling: a resolver on both forms, and push-style create_message on legacy.
            for name in ("modern", "legacy"):
                result = await host.call_tool(f"{name}.summarize", {"text": f"hello from {name}"})
                assert result.structured_content == {
                    "summary": f"echo: Summarize: hello from {name}",
                    "model": "gpt-test",
                    "stop_reason": "endTurn",
                }
            pushed = await host.call_tool("legacy.summarize_push", {"text": "push"})
            assert pushed.structured_content == {"result": "echo: Summarize: push"}

            # Elicitation: the terminal form, answered with real text.
            modern = await host.call_tool("modern.configure", {"job": "m"})
            assert modern.structured_content == {
                "action": "accept",
                "settings": {"name": "job-m", "epochs": 3, "rate": 0.5, "verbose": True, "color": "blue"},
            }
            legacy = await host.call_tool("legacy.configure", {"job": "l"})
            assert legacy.structured_content is not None
            assert legacy.structured_content["settings"]["name"] == "job-l"
            declined = await host.call_tool("legacy.configure_push", {"job": "p"})
            assert declined.structured_content == {"action": "decline", "settings": None}

            # Logging and progress.
            for name in ("modern", "legacy"):
                assert not (await host.call_tool(f"{name}.chatty", {"note": name})).is_error

                on_progress = collect(reports[name])
                assert not (await host.call_tool(f"{name}.slow", {"steps": 3}, progress=on_progress)).is_error
            with ProgressBars(Console(file=bars_out, force_terminal=True, width=100)) as bars:
                await host.call_tool("modern.slow", {"steps": 4}, progress=bars.track("modern.slow"))

            # Close the stdio server that connected first; the other one keeps working.
            first, second = connected
            await host.disconnect(first)
            echo = await host.call_tool(f"{second}.echo", {"text": "alone"})
            assert echo.structured_content == {"result": f"{second}: alone"}

    with caplog.at_level(logging.DEBUG, logger="genai_mcp.client.server"):
        anyio.run(main)

    sent = openai_server.requests[-3:]
    assert [r["messages"] for r in sent[:2]] == [
        [
            {"role": "system", "content": "Answer in one line."},
            {"role": "user", "content": f"Summarize: hello from {name}"},
        ]
        for name in ("modern", "legacy")
    ]
    assert sent[0]["max_tokens"] == 24 and sent[0]["temperature"] == 0.0 and sent[0]["model"] == "gpt-test"
    assert "[modern] asks: Settings for job 'm'?" in prompts.getvalue()

    logs = [(r.mcp_server, r.levelno, r.getMessage()) for r in caplog.records if hasattr(r, "mcp_server")]
    assert sorted(logs) == sorted(
        [
            ("modern", logging.DEBUG, "[modern] debug modern"),
            ("modern", logging.INFO, '[modern] {"event": "info", "note": "modern"}'),
            ("modern", logging.WARNING, "[modern] chatty.worker: warning modern"),
            (
                "legacy",
                logging.WARNING,
                "[legacy] chatty.worker: warning legacy",
            ),  # below warning is filtered
        ]
    )
    for name in ("modern", "legacy"):
        assert reports[name] == [(float(i), 3.0, f"step {i}/3") for i in (1, 2, 3)]
    assert "modern.slow: step 4/4" in bars_out.getvalue() and "100%" in bars_out.getvalue()
    assert child_pids() == before


def test_sampling_approval_refusals_and_decline_policy(openai_server: FakeOpenAI) -> None:
    seen: list[tuple[str, str]] = []

    async def approver(server: str, params: CreateMessageRequestParams) -> bool:
        text = params.messages[0].content
        assert isinstance(text, TextContent)
        seen.append((server, text.text))
        return "secret" not in text.text

    config = {
        "mcpServers": {
            "gated": callbacks_entry(sampling=openai_sampling(openai_server, approval="terminal")),
            "wrongkey": callbacks_entry(
                protocol="legacy",
                sampling=openai_sampling(openai_server, api_key="sk-wrong"),
                elicitation={"mode": "decline"},
            ),
        }
    }
    prompts = io.StringIO()
    terminal = Terminal(io.StringIO("y\nn\n"), prompts)

    async def main() -> None:
        async with Host.from_config(
            config, env={"OPENAI_KEY": OPENAI_KEY}, terminal=terminal, approver=approver
        ) as host:
            allowed = await host.call_tool("gated.summarize", {"text": "public notes"})
            assert allowed.structured_content is not None
            assert allowed.structured_content["summary"] == "echo: Summarize: public notes"
            with pytest.raises(MCPError, match="the user declined the sampling request") as refused:
                await host.call_tool("gated.summarize", {"text": "more notes"})  # the person types n
            assert refused.value.code == -1
            with pytest.raises(MCPError, match="the user declined the sampling request"):
                await host.call_tool("gated.summarize", {"text": "secret plans"})  # the hook says no
            with pytest.raises(
                MCPError, match=r"openai backend: HTTP 401 from http://127\.0\.0\.1:\d+/v1/chat"
            ):
                await host.call_tool("wrongkey.summarize", {"text": "x"})
            declined = await host.call_tool("wrongkey.configure", {"job": "j"})
            assert declined.structured_content == {"action": "decline", "settings": None}

    anyio.run(main)
    assert seen == [
        ("gated", "Summarize: public notes"),
        ("gated", "Summarize: more notes"),
        ("gated", "Summarize: secret plans"),
        ("wrongkey", "Summarize: x"),
    ]
    shown = prompts.getvalue()
    assert shown.count("[gated] wants to ask the LLM (openai backend)") == 2  # the hook refused the third
    assert "user: Summarize: more notes" in shown and "Allow this request? [y/N]" in shown
