"""What a person types at the terminal, and the scripted policies, turned into MCP answers."""

from __future__ import annotations

import io
from typing import Any

import anyio
from mcp.types import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ErrorData,
    SamplingMessage,
    TextContent,
)

from genai_mcp.client import Terminal
from genai_mcp.client.config import ElicitationConfig, SamplingConfig
from genai_mcp.client.elicitation import answer_from_policy, ask_form
from genai_mcp.client.sampling import make_sampling_callback

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Job name"},
        "epochs": {"type": "integer", "default": 2, "minimum": 1, "maximum": 10},
        "rate": {"type": "number", "default": 0.5},
        "verbose": {"type": "boolean", "default": False},
        "color": {"type": "string", "enum": ["red", "green", "blue"], "default": "green"},
        "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}},
        "note": {"type": "string"},
    },
    "required": ["name"],
}
FORM = ElicitRequestFormParams(message="Settings?", requested_schema=SCHEMA)


def terminal(typed: str) -> tuple[Terminal, io.StringIO]:
    out = io.StringIO()
    return Terminal(io.StringIO(typed), out), out


def test_form_reasks_until_each_answer_fits_and_uses_defaults() -> None:
    typed = "\n".join(["a", "", "job", "zero", "11", "3", "", "yes", "purple", "red", "a, c", "", ""])
    term, out = terminal(typed)
    result = anyio.run(ask_form, term, "srv", FORM)
    assert result.action == "accept"
    assert result.content == {
        "name": "job",
        "epochs": 3,
        "rate": 0.5,
        "verbose": True,
        "color": "red",
        "tags": ["a", "c"],
    }
    shown = out.getvalue()
    assert "[srv] asks: Settings?" in shown
    assert "color (one of red, green, blue; default green)" in shown
    for complaint in ("! required", "! expected an integer", "! must be at most 10", "! expected one of red"):
        assert complaint in shown


def test_form_decline_cancel_and_end_of_input() -> None:
    for typed, action in (("d\n", "decline"), ("cancel\n", "cancel"), ("a\n", "cancel"), ("", "cancel")):
        term, _ = terminal(typed)
        assert anyio.run(ask_form, term, "srv", FORM).action == action
    url = ElicitRequestURLParams(message="Sign in", url="https://example.org/auth", elicitation_id="e1")
    term, out = terminal("y\n")
    assert anyio.run(ask_form, term, "srv", url).action == "accept"
    assert "https://example.org/auth" in out.getvalue()


def test_policy_answers_fill_defaults_and_refuse_bad_data() -> None:
    answers = ElicitationConfig(mode="answers", answers={"name": "nightly", "epochs": 4, "tags": ["b"]})
    result = answer_from_policy("srv", answers, FORM)
    assert result.action == "accept"
    assert result.content == {
        "name": "nightly",
        "epochs": 4,
        "rate": 0.5,
        "verbose": False,
        "color": "green",
        "tags": ["b"],
    }
    missing = ElicitationConfig(mode="answers", answers={"epochs": 4})
    assert answer_from_policy("srv", missing, FORM).action == "decline"
    wrong = ElicitationConfig(mode="answers", answers={"name": "x", "epochs": "many"})
    assert answer_from_policy("srv", wrong, FORM).action == "decline"
    assert answer_from_policy("srv", ElicitationConfig(mode="cancel"), FORM).action == "cancel"
    assert answer_from_policy("srv", ElicitationConfig(mode="auto"), FORM).action == "decline"


REQUEST = CreateMessageRequestParams(
    messages=[SamplingMessage(role="user", content=TextContent(type="text", text="Summarize: MCP"))],
    max_tokens=20,
    system_prompt="Be brief.",
)


def test_human_backend_reads_the_reply_and_an_empty_reply_refuses() -> None:
    term, out = terminal("Model Context\nProtocol\n\n")
    callback = make_sampling_callback("srv", SamplingConfig(backend="human"), term)
    assert callback is not None
    result = anyio.run(callback, None, REQUEST)  # type: ignore[arg-type]  # the context is unused
    assert isinstance(result, CreateMessageResult)
    assert isinstance(result.content, TextContent) and result.content.text == "Model Context\nProtocol"
    assert "system: Be brief." in out.getvalue() and "user: Summarize: MCP" in out.getvalue()

    term, _ = terminal("\n")
    callback = make_sampling_callback("srv", SamplingConfig(backend="human"), term)
    assert callback is not None
    refused = anyio.run(callback, None, REQUEST)  # type: ignore[arg-type]
    assert isinstance(refused, ErrorData) and refused.code == -1


def test_backend_none_declares_no_sampling() -> None:
    term, _ = terminal("")
    assert make_sampling_callback("srv", SamplingConfig(), term) is None
