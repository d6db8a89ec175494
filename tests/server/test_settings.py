from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from genai_mcp.server.http import check_bind, transport_security
from genai_mcp.server.settings import ServerSettings, SettingsError


def test_defaults_are_safe() -> None:
    s = ServerSettings.load(env={})
    assert (s.transport, s.host, s.port, s.tokens) == ("stdio", "127.0.0.1", 8000, [])


def test_env_then_flags(tmp_path: Path) -> None:
    env = {"GENAI_MCP_PORT": "9001", "GENAI_MCP_TOKENS": "a" * 16 + ", " + "b" * 16, "GENAI_MCP_HOST": "::1"}
    s = ServerSettings.load({"port": 9002}, env=env)
    assert s.port == 9002 and s.host == "::1"
    assert [t.get_secret_value() for t in s.tokens] == ["a" * 16, "b" * 16]
    assert "aaaa" not in repr(s)  # tokens never show up in logs or reprs


def test_token_file(tmp_path: Path) -> None:
    f = tmp_path / "tokens"
    f.write_text("# comment\n" + "x" * 20 + "\n\n")
    s = ServerSettings.load({"token_file": f}, env={})
    assert [t.get_secret_value() for t in s.tokens] == ["x" * 20]
    with pytest.raises(SettingsError, match="cannot read token file"):
        ServerSettings.load({"token_file": tmp_path / "missing"}, env={})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(SettingsError, match="holds no token"):
        ServerSettings.load({"token_file": tmp_path / "empty"}, env={})


def test_bad_env_value_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="GENAI_MCP_PORT"):
        ServerSettings.load(env={"GENAI_MCP_PORT": "eighty"})


def test_non_loopback_bind_needs_token_or_explicit_override() -> None:
    with pytest.raises(SettingsError, match="--allow-unauthenticated"):
        check_bind(ServerSettings(host="0.0.0.0"))
    check_bind(ServerSettings(host="0.0.0.0", tokens=["t" * 16]))
    check_bind(ServerSettings(host="0.0.0.0", allow_unauthenticated=True))
    check_bind(ServerSettings(host="localhost"))


def test_host_checks_stay_on_for_public_binds() -> None:
    sec = transport_security(ServerSettings(host="0.0.0.0", allowed_hosts=["mcp.example.org:*"]))
    assert sec.enable_dns_rebinding_protection
    assert "mcp.example.org:*" in sec.allowed_hosts and "127.0.0.1:*" in sec.allowed_hosts
    assert "https://mcp.example.org:*" in sec.allowed_origins


def test_torch_threads_applies_before_and_after_torch_is_imported(tmp_path: Path) -> None:
    # The serve command applies it for its process; create_server never changes the process.
    script = (
        "import os, sys\n"
        "from genai_mcp.server.app import create_server\n"
        "from genai_mcp.server.process import configure_process\n"
        "from genai_mcp.server.settings import ServerSettings\n"
        "s = ServerSettings.load(env={'GENAI_MCP_TORCH_THREADS': '1', 'GENAI_MCP_DATA_DIR': sys.argv[1]})\n"
        "create_server(s)\n"
        "assert 'OMP_NUM_THREADS' not in os.environ\n"
        "configure_process(s)\n"
        "assert 'torch' not in sys.modules\n"  # start-up still imports no torch
        "import torch\n"
        "before = torch.get_num_threads()\n"
        "configure_process(s.model_copy(update={'torch_threads': 2}))\n"
        "print(before, torch.get_num_threads())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["1", "2"]
