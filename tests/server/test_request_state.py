"""Request-state keys (replicas behind one load balancer) and questions that no replica words differently.

The cross-replica rounds themselves run through a real nginx in tests/e2e/test_deployment.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from genai_mcp.server.app import create_server
from genai_mcp.server.lora_confirmation import confirmation
from genai_mcp.server.settings import ServerSettings, SettingsError
from genai_mcp.tools.lora import LoraPlan
from tests.helpers.lora import made_up_plan
from tests.helpers.processes import TOKEN, start_http_server, stop

KEY_A, KEY_B = "a" * 32, "b" * 40


def test_keys_from_the_environment_then_the_file(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"# newest first: the first key seals\n{KEY_B}\n\n")
    env = {
        "GENAI_MCP_REQUEST_STATE_KEYS": f"{KEY_A}, {KEY_A[:-1]}c",
        "GENAI_MCP_REQUEST_STATE_KEY_FILE": str(keys),
    }
    s = ServerSettings.load(env=env)
    assert [k.get_secret_value() for k in s.request_state_keys] == [KEY_A, KEY_A[:-1] + "c", KEY_B]
    assert "aaaa" not in repr(s)  # secrets never show up in logs or reprs
    assert ServerSettings.load(env={}).request_state_keys == []


def test_a_short_key_is_refused_naming_the_variable_and_the_length(tmp_path: Path) -> None:
    with pytest.raises(
        SettingsError, match=r"GENAI_MCP_REQUEST_STATE_KEYS: request-state key #2 is shorter than 32 bytes"
    ):
        ServerSettings.load(env={"GENAI_MCP_REQUEST_STATE_KEYS": f"{KEY_A},short"})
    keys = tmp_path / "keys"
    keys.write_text(f"{KEY_A}\n{'x' * 31}\n")
    with pytest.raises(
        SettingsError, match=r"the request-state key on line 2 of .*keys is shorter than 32 bytes"
    ):
        ServerSettings.load({"request_state_key_file": keys}, env={})


def test_an_unreadable_or_empty_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"cannot read request-state key file .*missing: No such file"):
        ServerSettings.load({"request_state_key_file": tmp_path / "missing"}, env={})
    (tmp_path / "empty").write_text("# nothing yet\n")
    with pytest.raises(SettingsError, match="holds no request-state key"):
        ServerSettings.load({"request_state_key_file": tmp_path / "empty"}, env={})


def test_the_serve_command_exits_2_on_a_bad_key_file(tmp_path: Path) -> None:
    from genai_mcp.server.cli import main

    assert main(["serve", "--request-state-key-file", str(tmp_path / "missing")]) == 2


def test_a_server_takes_its_keys() -> None:
    # The SDK's own codec rejects what it cannot use; building the server proves it took the keys.
    create_server(ServerSettings(request_state_keys=[KEY_A, KEY_B]), http=True)


def _question(plan: LoraPlan) -> tuple[str, dict[str, object]]:
    elicit = confirmation(plan, max_steps=2000)
    schema = elicit.schema
    assert isinstance(schema, type) and issubclass(schema, BaseModel)
    return elicit.message, schema.model_json_schema()


def test_the_lora_question_is_the_same_whatever_a_replica_measured() -> None:
    # Each replica times a step of its own; the question must not carry that, or a round on another
    # replica is a different question and the client is asked again until it gives up.
    assert _question(made_up_plan(estimated_seconds=12)) == _question(made_up_plan(estimated_seconds=13.5))
    assert _question(made_up_plan(steps=30)) != _question(made_up_plan(steps=31))


def test_an_http_server_without_a_key_says_what_breaks_behind_a_load_balancer(tmp_path: Path) -> None:
    env = {"GENAI_MCP_TOKENS": TOKEN}
    lone = start_http_server(tmp_path, **env)
    stop(lone.process)
    assert "no GENAI_MCP_REQUEST_STATE_KEYS" in lone.log_path.read_text()
    assert "Invalid or expired requestState" in lone.log_path.read_text()
    keyed = start_http_server(tmp_path, **env, GENAI_MCP_REQUEST_STATE_KEYS=KEY_A)
    stop(keyed.process)
    assert "REQUEST_STATE_KEYS" not in keyed.log_path.read_text()
