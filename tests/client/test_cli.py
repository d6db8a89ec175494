"""`genai-mcp host ...` against real servers: readable output, saved images, and reliable exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from genai_mcp.client.cli import main
from genai_mcp.client.host_cli import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_TIMEOUT,
    EXIT_TOOL_ERROR,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
)
from tests.helpers.host_entries import callbacks_entry
from tests.helpers.processes import TOKEN, HttpServer

CLASSIFY = json.dumps({"y_true": [1, 0, 1, 1], "y_pred": [1, 0, 0, 1], "average": "binary"})


@pytest.fixture
def config_file(tmp_path: Path, genai_http: HttpServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GENAI_TEST_TOKEN", TOKEN)
    path = tmp_path / "mcp.json"
    servers = {
        "cb": callbacks_entry(),
        "remote": {"url": genai_http.mcp_url, "headers": {"Authorization": "Bearer ${GENAI_TEST_TOKEN}"}},
        "broken": {"command": str(tmp_path / "missing-server")},
    }
    path.write_text(json.dumps({"mcpServers": servers}))
    return path


def host(config: Path, *argv: str) -> int:
    return main(["host", "--config", str(config), *argv])


def test_listing_prints_every_tool_and_exits_3_when_a_server_is_down(
    config_file: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert host(config_file, "tools") == EXIT_UNAVAILABLE
    out, err = capfd.readouterr()
    for name in ("cb.summarize", "cb.red_square", "remote.text_metrics", "remote.retrieval_metrics"):
        assert name in out
    assert "server 'broken' is failed: cannot start" in err

    assert host(config_file, "--server", "remote", "--json", "tools") == EXIT_OK
    tools = json.loads(capfd.readouterr().out)
    assert {t["name"] for t in tools} >= {"remote.text_metrics", "remote.classification_metrics"}
    assert all(t["server"] == "remote" and "inputSchema" in t for t in tools)


def test_call_prints_structured_content_as_tables_and_json(
    config_file: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert host(config_file, "call", "remote.classification_metrics", "--args", CLASSIFY) == EXIT_OK
    out = capfd.readouterr().out
    assert "accuracy" in out and "0.75" in out and "confusion_matrix" in out
    assert '"task": "classification"' not in out  # the JSON mirror of the table is not printed twice

    assert host(config_file, "--json", "call", "remote.classification_metrics", "--args", CLASSIFY) == EXIT_OK
    result = json.loads(capfd.readouterr().out)
    assert result["is_error"] is False and result["structured_content"]["classification"]["accuracy"] == 0.75


def test_images_are_saved_and_their_paths_printed(
    config_file: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "out"
    assert (
        host(config_file, "--save-dir", str(saved), "call", "cb.red_square", "--args", '{"size": 3}')
        == EXIT_OK
    )
    out = capfd.readouterr().out
    path = saved / "cb-red_square.png"
    assert f"image saved: {path}" in out and "a red 3x3 square" in out
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_resources_read_and_prompts(config_file: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert host(config_file, "--server", "remote", "resources") == EXIT_OK
    assert "models://list" in capfd.readouterr().out
    assert host(config_file, "--server", "remote", "read", "models://list") == EXIT_OK
    assert capfd.readouterr().out.strip()
    assert host(config_file, "prompt", "cb.greet", "--args", '{"who": "Ada"}') == EXIT_OK
    assert "user: Say hello to Ada." in capfd.readouterr().out


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["call", "remote.classification_metrics", "--args", '{"y_true": [1]}'], EXIT_TOOL_ERROR, ""),
        (["call", "remote.text_metrics", "--args", "{not json"], EXIT_USAGE, "--args is not valid JSON"),
        (["call", "nope.tool"], EXIT_USAGE, "'nope.tool' names no configured server"),
        (["call", "broken.tool"], EXIT_UNAVAILABLE, "'broken' is unavailable: cannot start"),
        (["--server", "remote", "read", "models://no-such-model/card"], EXIT_REJECTED, "the server rejected"),
        (
            ["call", "cb.slow", "--args", '{"steps": 50, "delay": 0.1}', "--timeout", "0.3"],
            EXIT_TIMEOUT,
            "0.3 s",
        ),
    ],
)
def test_exit_codes(
    config_file: Path, capfd: pytest.CaptureFixture[str], argv: list[str], code: int, message: str
) -> None:
    assert host(config_file, *argv) == code
    assert message in capfd.readouterr().err


def test_config_errors_exit_2_with_the_reason(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"mcpServers": {"a": {"command": "x", "bogus": 1}}}')
    assert host(bad, "tools") == EXIT_USAGE
    assert "mcpServers.a: unknown key 'bogus'" in capfd.readouterr().err


def test_console_script_runs_host_commands(config_file: Path) -> None:
    script = Path(sys.executable).with_name("genai-mcp")
    done = subprocess.run(
        [
            str(script),
            "host",
            "--config",
            str(config_file),
            "--json",
            "call",
            "remote.text_metrics",
            "--args",
            json.dumps(
                {"candidates": ["the cat sat on the mat"], "references": [["the cat sat on the mat"]]}
            ),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == EXIT_OK, done.stderr
    assert json.loads(done.stdout)["structured_content"]["bleu"]["corpus"]["score"] == pytest.approx(100.0)
