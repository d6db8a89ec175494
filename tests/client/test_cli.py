"""`genai-mcp host ...` against real servers: readable output, saved images, and reliable exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from genai_mcp.client import host_cli
from genai_mcp.client.cli import main
from genai_mcp.client.host_cli import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_TIMEOUT,
    EXIT_TOOL_ERROR,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
)
from tests.helpers.host_entries import callbacks_entry, genai_stdio_entry
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
    assert err.count("'broken'") == 1 and "server 'broken' could not connect: cannot start" in err

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


LENGTHS = '{"y_true": [1, 0], "y_pred": [1]}'  # fits the schema; the tool refuses it
TYPO = '{"y_true": [1], "y_pred": [1], "y_tru": [1]}'


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        # 1: the tool ran and said no
        (["call", "remote.classification_metrics", "--args", LENGTHS], EXIT_TOOL_ERROR, "same length"),
        # 2: usage (the command line or the config names nothing that exists)
        (["call", "remote.text_metrics", "--args", "{not json"], EXIT_USAGE, "--args is not valid JSON"),
        (["call", "nope.tool"], EXIT_USAGE, "'nope.tool' names no configured server"),
        (["call", "remote.no_such_tool"], EXIT_USAGE, "server 'remote' has no tool 'no_such_tool'; it has"),
        (["call", "remote.text_metric"], EXIT_USAGE, "did you mean 'remote.text_metrics'"),
        # 3: the server is not there (said once: as it failed)
        (["call", "broken.tool"], EXIT_UNAVAILABLE, "server 'broken' could not connect: cannot start"),
        (["--server", "broken", "read", "x://y"], EXIT_UNAVAILABLE, "server 'broken' could not connect"),
        # 4: the server rejected the request: an MCP error, or arguments that break the input schema
        (["--server", "remote", "read", "models://no-such-model/card"], EXIT_REJECTED, "the server rejected"),
        (["call", "remote.text_metrics", "--args", "{}"], EXIT_REJECTED, "candidates"),
        (["call", "remote.retrieval_metrics", "--args", '{"queries": "d1"}'], EXIT_REJECTED, "queries"),
        # (a name the schema does not list: the server refuses it, see the strict-arguments tests)
        (
            ["call", "remote.classification_metrics", "--args", TYPO],
            EXIT_REJECTED,
            "unknown argument 'y_tru'",
        ),
        # 5: too slow
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
    out, err = capfd.readouterr()
    assert message in out + err
    assert (out + err).count(message) == 1, "each problem is printed once"


def test_a_missing_command_line_argument_exits_2(
    config_file: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as usage:
        host(config_file, "call")
    assert usage.value.code == EXIT_USAGE
    assert "the following arguments are required: NAME" in capfd.readouterr().err


def test_a_resource_several_servers_offer_needs_server(
    tmp_path: Path, genai_http: HttpServer, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GENAI_TEST_TOKEN", TOKEN)
    entry = {"url": genai_http.mcp_url, "headers": {"Authorization": "Bearer ${GENAI_TEST_TOKEN}"}}
    two = tmp_path / "two.json"
    two.write_text(json.dumps({"mcpServers": {"local": entry, "remote": entry}}))
    assert host(two, "read", "models://list") == EXIT_USAGE
    err = capfd.readouterr().err
    assert (
        "resource 'models://list' is offered by local, remote; name the server with --server NAME, "
        f"e.g. genai-mcp host --config {two} --server local read models://list"
    ) in err
    assert host(two, "--server", "local", "read", "models://list") == EXIT_OK


def test_the_documented_exit_codes_are_the_codes() -> None:
    codes = [EXIT_OK, EXIT_TOOL_ERROR, EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_REJECTED, EXIT_TIMEOUT]
    assert codes == list(range(6))
    helped = re.findall(r"^    (\d)  ", host_cli._EPILOG, re.M)  # what `genai-mcp host --help` prints
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    sentence = " ".join(readme.split("Exit codes (also in `genai-mcp host --help`): ", 1)[1].split())
    told = re.findall(r"(?:^|, )(\d) ", sentence.split(". ", 1)[0])
    assert [int(c) for c in helped] == [int(c) for c in told] == codes
    for code, words in [(1, "tool"), (2, "unknown server or tool"), (3, "unavailable"), (4, "rejected")]:
        assert words in sentence.split(f"{code} ", 1)[1].split(f", {code + 1} ", 1)[0], (code, words)


def test_a_download_refusal_says_how_to_allow_downloads_once(
    config_file: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    args = json.dumps({"prompt": "Return the", "model": "nobody/not-in-the-cache"})
    assert host(config_file, "call", "remote.generate_text", "--args", args) == EXIT_TOOL_ERROR
    out, err = capfd.readouterr()
    hint = "or allow downloads (start the server with --allow-downloads or GENAI_MCP_ALLOW_DOWNLOADS=1)."
    assert (out + err).count(hint) == 1 and "'nobody/not-in-the-cache' is not in the local" in out
    assert "ModelCache(" not in out and "allow_downloads=True" not in out


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


def test_a_server_that_cannot_start_is_reported_once_by_the_command(config_file: Path) -> None:
    # In a process of its own the host's logging reaches stderr too: the warning the host logs as
    # the server fails must not repeat what the command says.
    script = Path(sys.executable).with_name("genai-mcp")
    done = subprocess.run(
        [str(script), "host", "--config", str(config_file), "call", "broken.tool"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == EXIT_UNAVAILABLE
    assert done.stderr.count("'broken'") == 1 and "could not connect: cannot start" in done.stderr, (
        done.stderr
    )


def test_a_refused_call_to_a_stdio_server_is_printed_once(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # The server's stderr is the host's terminal here: its refusal records show only at DEBUG there.
    path = tmp_path / "stdio.json"
    path.write_text(json.dumps({"mcpServers": {"local": genai_stdio_entry(tmp_path / "data")}}))
    args = json.dumps({"prompt": "x", "max_new_tokens": 5000})
    assert host(path, "call", "local.generate_text", "--args", args) == EXIT_TOOL_ERROR
    out, err = capfd.readouterr()
    assert (out + err).count("max_new_tokens is 5000, over the limit of 1024") == 1, (out, err)
