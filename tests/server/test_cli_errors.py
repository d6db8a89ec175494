"""A real `genai-mcp serve` refuses bad settings with one line on stderr and exit status 2.

Each case fails before anything listens; a regression that starts the server instead ends at the
subprocess timeout rather than hanging the suite.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SHORT = "hunter2-abc"  # 11 characters: guessable, and never to be echoed back
LONG = "a-long-enough-token-0123456789"
HINT = "shorter than 16 characters; use a random one"


def serve(tmp_path: Path, *args: str, module: bool = False, **env: str) -> subprocess.CompletedProcess[str]:
    if module:
        command = [sys.executable, "-m", "genai_mcp.server.cli"]
    else:
        command = [str(Path(sys.executable).with_name("genai-mcp"))]
    return subprocess.run(
        [*command, "serve", "--transport", "http", "--port", "0", *args],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GENAI_MCP_DATA_DIR": str(tmp_path), **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_refused(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr  # a message, not a traceback
    assert lines[0].startswith("genai-mcp: ")
    for text in expected:
        assert text in lines[0]
    assert SHORT not in done.stderr and LONG not in done.stderr


@pytest.mark.parametrize("module", [False, True], ids=["console-script", "python-m"])
def test_a_short_token_is_a_settings_error(tmp_path: Path, module: bool) -> None:
    done = serve(tmp_path, module=module, GENAI_MCP_TOKENS=SHORT)
    assert_refused(done, "GENAI_MCP_TOKENS: token #1 is " + HINT)


def test_the_message_names_which_token_is_short(tmp_path: Path) -> None:
    done = serve(tmp_path, GENAI_MCP_TOKENS=f"{LONG},{SHORT}")
    assert_refused(done, "GENAI_MCP_TOKENS: token #2 is " + HINT)


def test_a_short_token_in_the_token_file_names_its_line(tmp_path: Path) -> None:
    token_file = tmp_path / "tokens"
    token_file.write_text(f"# one per line\n{LONG}\n\n{SHORT}\n")
    done = serve(tmp_path, "--token-file", str(token_file))
    assert_refused(done, f"the token on line 4 of {token_file} is " + HINT)


def test_other_settings_errors_take_the_same_path(tmp_path: Path) -> None:
    assert_refused(serve(tmp_path, GENAI_MCP_CACHE_MAX_MODELS="none"), "GENAI_MCP_CACHE_MAX_MODELS")
    assert_refused(
        serve(tmp_path, "--host", "0.0.0.0"), "refusing to listen on 0.0.0.0 without a bearer token"
    )
